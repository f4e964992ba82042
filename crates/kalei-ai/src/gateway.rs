//! The gateway: routing, attempts, retries, breaker, budgets, validation,
//! repair, metering, cache.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kalei_analysis::templates as tpl;
use kalei_analysis::{Analysis, Emotions};
use kalei_store::counters::SharedCounters;
use kalei_store::{Clock, Db};
use rand::Rng;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::breaker::{Breaker, BreakerState};
use crate::budget::{next_period_start, Budgets, Ticket};
use crate::config::{ConfigError, DegradeAction, GatewayConfig, TargetConfig};
use crate::openai::{parse_completion, parse_retry_after, Completion, Remote};
use crate::prompts::{PromptRevision, Prompts};
use crate::safety;
use crate::schema::{extract_json, Output, Schemas};
use crate::types::*;
use crate::usage::{self, Msg, UsageEvent};
use crate::LOCAL;

/// Version recorded for generations of the local templates.
pub(crate) const LOCAL_VERSION: &str = concat!("local-", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("AI gateway start: {0}")]
    Internal(String),
    #[error("AI gateway start: registering prompt revisions: {0}")]
    Store(#[from] sqlx::Error),
}

/// The AI gateway. Cheap to clone (one `Arc`); share one per process.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("config_hash", &self.inner.config_hash)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub cfg: GatewayConfig,
    pub counters: SharedCounters,
    pub clock: Arc<dyn Clock>,
    pub http: reqwest::Client,
    pub schemas: Schemas,
    pub prompts: Prompts,
    pub remotes: HashMap<String, Arc<Remote>>,
    pub breakers: HashMap<String, Breaker>,
    pub budgets: Budgets,
    pub usage_tx: mpsc::Sender<Msg>,
    pub config_hash: String,
}

/// What one call is about (built by the typed methods).
pub(crate) struct Spec<'a> {
    pub feature: Feature,
    pub user_id: &'a str,
    pub remote_allowed: bool,
    pub vars: Value,
    /// The user text the output may quote (fragments) and that is screened
    /// for crisis content before anything is sent.
    pub input: &'a str,
    pub analysis: Option<&'a Analysis>,
    pub check_against: &'a [String],
}

/// Per-call bookkeeping.
pub(crate) struct Ctx {
    pub feature: Feature,
    pub call_id: String,
    pub user_hash: String,
    pub started: Instant,
    pub provider_wait: Duration,
    pub attempt: i64,
    pub streamed: bool,
}

/// Why a target gave up.
pub(crate) enum TargetFail {
    Budget(BudgetKind),
    Failed(String),
    Deadline,
}

/// A failed HTTP attempt.
#[derive(Debug)]
pub(crate) enum AttemptError {
    Timeout,
    Transport(String),
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    Decode(String),
}

impl AttemptError {
    pub fn retryable(&self) -> bool {
        match self {
            AttemptError::Timeout | AttemptError::Transport(_) | AttemptError::Decode(_) => true,
            AttemptError::Status { code, .. } => *code == 408 || *code == 429 || *code >= 500,
        }
    }
    /// Does it say the target is unhealthy (breaker)?
    pub fn unhealthy(&self) -> bool {
        self.retryable()
    }
    pub fn outcome(&self) -> &'static str {
        match self {
            AttemptError::Timeout => "timeout",
            AttemptError::Transport(_) => "transport_error",
            AttemptError::Decode(_) => "bad_response",
            AttemptError::Status { code: 429, .. } => "rate_limited",
            AttemptError::Status { code, .. } if *code >= 500 => "server_error",
            AttemptError::Status { .. } => "client_error",
        }
    }
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptError::Timeout => f.write_str("timed out"),
            AttemptError::Transport(e) => write!(f, "transport error: {e}"),
            AttemptError::Status { code, .. } => write!(f, "HTTP {code}"),
            AttemptError::Decode(e) => write!(f, "{e}"),
        }
    }
}

pub(crate) fn classify(e: reqwest::Error) -> AttemptError {
    if e.is_timeout() {
        AttemptError::Timeout
    } else if e.is_decode() || e.is_body() {
        AttemptError::Transport(format!("body: {e}"))
    } else {
        AttemptError::Transport(e.without_url().to_string())
    }
}

/// A rejected answer.
pub(crate) enum Problem {
    Invalid(String),
    Unsafe(safety::Violation),
}

impl Problem {
    pub fn outcome(&self) -> &'static str {
        match self {
            Problem::Invalid(_) => "invalid_output",
            Problem::Unsafe(_) => "unsafe_output",
        }
    }
    pub fn repair_message(&self) -> String {
        let what = match self {
            Problem::Invalid(e) => format!("it does not match the required JSON schema: {e}"),
            Problem::Unsafe(v) => format!("it breaks a content rule: {}", v.detail),
        };
        format!(
            "Your previous answer was rejected because {what}. Reply again with only the corrected JSON object."
        )
    }
    /// Safe to log: no generated text.
    pub fn log_text(&self) -> String {
        match self {
            Problem::Invalid(e) => format!("invalid output: {e}"),
            Problem::Unsafe(v) => format!("unsafe output: rule {}", v.rule),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CachedEntry {
    output: Value,
    model: String,
    provider: String,
    target: String,
    prompt_version: String,
}

pub(crate) fn seed_of(parts: &[&str]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    let b = h.finalize();
    u64::from_le_bytes(b.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// Names of the strongest feelings (for prompts: no raw text).
pub(crate) fn feelings(e: &Emotions) -> Vec<&'static str> {
    let names = [
        "joy",
        "trust",
        "fear",
        "surprise",
        "sadness",
        "disgust",
        "anger",
        "anticipation",
    ];
    let mut v: Vec<(&str, f32)> = names.iter().copied().zip(e.plutchik()).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v.into_iter()
        .filter(|(_, x)| *x >= 0.2)
        .take(2)
        .map(|(n, _)| n)
        .collect()
}

pub(crate) fn tone(valence: f32) -> &'static str {
    if valence <= -0.25 {
        "mostly heavy"
    } else if valence >= 0.25 {
        "mostly light"
    } else {
        "mixed"
    }
}

fn round2(x: f32) -> f64 {
    (x as f64 * 100.0).round() / 100.0
}

fn patterns(counts: &[(kalei_analysis::DistortionType, u32)]) -> Vec<Value> {
    let mut c: Vec<_> = counts.iter().filter(|(_, n)| *n > 0).collect();
    c.sort_by_key(|x| std::cmp::Reverse(x.1));
    c.iter()
        .take(5)
        .map(|(d, n)| json!({"label": d.label(), "count": n}))
        .collect()
}

impl Gateway {
    /// Validates the configuration, precompiles schemas and templates,
    /// records prompt revisions and starts the usage writer. Must be called
    /// inside a Tokio runtime.
    pub async fn new(
        config: GatewayConfig,
        db: Db,
        counters: SharedCounters,
        clock: Arc<dyn Clock>,
    ) -> Result<Gateway, InitError> {
        config.validate()?;
        let schemas = Schemas::compile().map_err(InitError::Internal)?;
        let prompts = Prompts::compile().map_err(InitError::Internal)?;
        usage::register_prompts(&db, prompts.revisions(), clock.now_ms()).await?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(512)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("kalei-ai/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| InitError::Internal(e.to_string()))?;
        let mut remotes = HashMap::new();
        let mut breakers = HashMap::new();
        for (name, t) in &config.targets {
            let TargetConfig::OpenaiCompatible(r) = t;
            remotes.insert(name.clone(), Arc::new(Remote::new(name, r)));
            breakers.insert(name.clone(), Breaker::new(name, &config.breaker));
        }
        let budgets = Budgets::new(
            config.budgets.clone(),
            counters.clone(),
            clock.clone(),
            http.clone(),
        );
        let usage_tx = usage::spawn_writer(db, config.usage_queue);
        let config_hash = config.snapshot_hash();
        for r in prompts.revisions() {
            tracing::info!(target: "kalei_ai", prompt = r.name, version = %r.version, "prompt revision active");
        }
        Ok(Gateway {
            inner: Arc::new(Inner {
                cfg: config,
                counters,
                clock,
                http,
                schemas,
                prompts,
                remotes,
                breakers,
                budgets,
                usage_tx,
                config_hash,
            }),
        })
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.inner.cfg
    }

    /// Blake3 of the configuration (stored with every usage event).
    pub fn config_hash(&self) -> &str {
        &self.inner.config_hash
    }

    /// The active prompt version of a feature.
    pub fn prompt_version(&self, f: Feature) -> &str {
        self.inner.prompts.version(f)
    }

    pub fn prompt_revisions(&self) -> Vec<PromptRevision> {
        self.inner.prompts.revisions().cloned().collect()
    }

    /// The hash that stands for a user in `ai_usage_events` and budget keys
    /// (e.g. to purge a deleted account's rows).
    pub fn user_hash(&self, user_id: &str) -> String {
        user_hash(user_id)
    }

    /// The shared counter keys (budgets) that name this user at `now_ms`,
    /// for account purge.
    pub fn user_counter_keys(&self, user_id: &str, now_ms: i64) -> Vec<String> {
        crate::budget::user_token_keys(&user_hash(user_id), now_ms)
    }

    pub fn breaker_state(&self, target: &str) -> Option<BreakerState> {
        let now = self.inner.clock.now_ms();
        self.inner.breakers.get(target).map(|b| b.state(now))
    }

    /// Waits until every usage event recorded so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.inner.usage_tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    // ---- typed calls -------------------------------------------------------

    /// Turn: exactly 3 reframes in distinct styles and 1 micro-action.
    pub async fn turn(&self, req: &TurnRequest) -> Result<Generated<TurnOutput>, GatewayError> {
        let (spec, local) = turn_spec(req);
        self.run(spec, local).await
    }

    /// Mirror: distortion fragments of one message (local = the engine).
    pub async fn mirror_fragments(
        &self,
        req: &FragmentsRequest,
    ) -> Result<Generated<FragmentsOutput>, GatewayError> {
        let types: Vec<&str> = kalei_analysis::DistortionType::ALL
            .iter()
            .map(|d| d.as_str())
            .collect();
        let spec = Spec {
            feature: Feature::MirrorFragments,
            user_id: &req.user_id,
            remote_allowed: req.remote_allowed,
            vars: json!({"text": req.text, "types": types}),
            input: &req.text,
            analysis: Some(&req.analysis),
            check_against: &[],
        };
        let fragments = req.analysis.fragments.clone();
        self.run(spec, move || FragmentsOutput { fragments }).await
    }

    /// Mirror: 3 reframes of one highlighted fragment.
    pub async fn mirror_reframe(
        &self,
        req: &MirrorReframeRequest,
    ) -> Result<Generated<ReframesOutput>, GatewayError> {
        let f = &req.fragment;
        let spec = Spec {
            feature: Feature::MirrorReframe,
            user_id: &req.user_id,
            remote_allowed: req.remote_allowed,
            vars: json!({
                "fragment": f.text, "label": f.r#type.label(), "explanation": f.r#type.explanation(),
                "feelings": feelings(&req.analysis.emotions),
            }),
            input: &f.text,
            analysis: Some(&req.analysis),
            check_against: &[],
        };
        let seed = seed_of(&[&req.user_id, &f.text]);
        let (d, e) = (f.r#type, req.analysis.emotions);
        self.run(spec, move || ReframesOutput {
            reframes: tpl::reframes(Some(d), &e, seed).to_vec(),
        })
        .await
    }

    /// Mirror: the reflection for a closed session, from aggregates only.
    pub async fn mirror_reflection(
        &self,
        req: &ReflectionRequest,
    ) -> Result<Generated<TextOutput>, GatewayError> {
        let s = &req.summary;
        let spec = Spec {
            feature: Feature::MirrorReflection,
            user_id: &req.user_id,
            remote_allowed: req.remote_allowed,
            vars: json!({
                "message_count": s.message_count,
                "patterns": patterns(&s.distortion_counts),
                "feelings": feelings(&s.mean_emotions),
                "tone": tone(s.mean_emotions.valence),
            }),
            input: "",
            analysis: None,
            check_against: &[],
        };
        let summary = s.clone();
        let seed = seed_of(&[&req.user_id, &s.message_count.to_string()]);
        self.run(spec, move || TextOutput {
            text: tpl::session_reflection(&summary, seed),
        })
        .await
    }

    /// Lens: the daily affirmation. First to degrade to templates.
    pub async fn lens(&self, req: &LensRequest) -> Result<Generated<TextOutput>, GatewayError> {
        let spec = Spec {
            feature: Feature::Lens,
            user_id: &req.user_id,
            remote_allowed: req.remote_allowed,
            vars: json!({
                "feelings": req.emotions.as_ref().map(feelings).unwrap_or_default(),
                "tone": tone(req.emotions.map(|e| e.valence).unwrap_or(0.0)),
            }),
            input: "",
            analysis: None,
            check_against: &[],
        };
        let (e, seed) = (req.emotions, req.seed);
        self.run(spec, move || TextOutput {
            text: tpl::affirmation(e.as_ref(), seed),
        })
        .await
    }

    /// Spectrum: the weekly insight, from aggregates only.
    pub async fn spectrum_weekly(
        &self,
        req: &InsightRequest,
    ) -> Result<Generated<TextOutput>, GatewayError> {
        self.insight(Feature::SpectrumWeekly, req).await
    }

    /// Spectrum: the monthly narrative, from aggregates only.
    pub async fn spectrum_monthly(
        &self,
        req: &InsightRequest,
    ) -> Result<Generated<TextOutput>, GatewayError> {
        self.insight(Feature::SpectrumMonthly, req).await
    }

    async fn insight(
        &self,
        feature: Feature,
        req: &InsightRequest,
    ) -> Result<Generated<TextOutput>, GatewayError> {
        let p = &req.summary;
        let spec = Spec {
            feature,
            user_id: &req.user_id,
            remote_allowed: req.remote_allowed,
            vars: json!({
                "period": if feature == Feature::SpectrumWeekly { "week" } else { "month" },
                "sessions": p.sessions, "turns": p.turns,
                "valence": round2(p.mean_emotions.valence), "arousal": round2(p.mean_emotions.arousal),
                "feelings": feelings(&p.mean_emotions),
                "previous_valence": p.previous_mean.map(|e| round2(e.valence)),
                "patterns": patterns(&p.distortion_counts),
                "turn_impact": p.turn_impact.map(round2),
            }),
            input: "",
            analysis: None,
            check_against: &req.check_against,
        };
        let summary = p.clone();
        let seed = seed_of(&[&req.user_id, feature.as_str(), &p.sessions.to_string()]);
        self.run(spec, move || TextOutput {
            text: if feature == Feature::SpectrumWeekly {
                tpl::weekly_insight(&summary, seed)
            } else {
                tpl::monthly_insight(&summary, seed)
            },
        })
        .await
    }

    // ---- the engine -------------------------------------------------------

    pub(crate) fn crisis_refusal(&self, spec: &Spec<'_>) -> Option<GatewayError> {
        let flagged = spec.analysis.is_some_and(|a| a.crisis.level.bypasses())
            || (!spec.input.is_empty()
                && kalei_analysis::detect_crisis(spec.input).level.bypasses());
        if flagged {
            metrics::counter!("kalei_ai_crisis_refused_total", "feature" => spec.feature.as_str())
                .increment(1);
            Some(GatewayError::Crisis)
        } else {
            None
        }
    }

    pub(crate) fn new_ctx(&self, feature: Feature, user_id: &str, streamed: bool) -> Ctx {
        Ctx {
            feature,
            call_id: kalei_store::new_id(),
            user_hash: user_hash(user_id),
            started: Instant::now(),
            provider_wait: Duration::ZERO,
            attempt: 0,
            streamed,
        }
    }

    /// The route's targets, or `local` alone without consent.
    pub(crate) fn targets(&self, f: Feature, remote_allowed: bool) -> Vec<String> {
        if remote_allowed {
            self.inner.cfg.routes.get(f).targets.clone()
        } else {
            vec![LOCAL.to_string()]
        }
    }

    pub(crate) fn degrade_action(&self, f: Feature) -> Option<(u8, DegradeAction)> {
        self.inner
            .cfg
            .budgets
            .degradation
            .iter()
            .find(|s| s.features.contains(&f))
            .map(|s| (s.at_percent, s.action))
    }

    /// Spend pressure before the call: Some(result) when the degradation
    /// order takes over.
    pub(crate) async fn pressure<T: Output>(
        &self,
        ctx: &mut Ctx,
        targets: &[String],
        local: &mut Option<impl FnOnce() -> T>,
    ) -> Option<Result<Generated<T>, GatewayError>> {
        if targets.iter().all(|t| t == LOCAL) {
            return None;
        }
        let (at, action) = self.degrade_action(ctx.feature)?;
        let pct = self.inner.budgets.month_percent().await?;
        if pct < at as f64 {
            return None;
        }
        Some(self.degrade(ctx, action, BudgetKind::GlobalMonthlySpend, local))
    }

    /// Applies a budget denial: the feature's degradation action, or the
    /// denial itself.
    pub(crate) fn degrade<T: Output>(
        &self,
        ctx: &mut Ctx,
        action: DegradeAction,
        which: BudgetKind,
        local: &mut Option<impl FnOnce() -> T>,
    ) -> Result<Generated<T>, GatewayError> {
        match action {
            DegradeAction::Local => {
                let f = local.take().expect("local once");
                Ok(self.local_result(ctx, f(), true, "degraded"))
            }
            DegradeAction::Pause => {
                metrics::counter!("kalei_ai_paused_total", "feature" => ctx.feature.as_str())
                    .increment(1);
                self.finish_metrics(ctx, "paused", LOCAL);
                Err(GatewayError::Paused {
                    feature: ctx.feature,
                    which,
                    resume_at_ms: next_period_start(which, self.inner.clock.now_ms()),
                })
            }
        }
    }

    pub(crate) fn on_budget_denied<T: Output>(
        &self,
        ctx: &mut Ctx,
        which: BudgetKind,
        local: &mut Option<impl FnOnce() -> T>,
    ) -> Result<Generated<T>, GatewayError> {
        metrics::counter!("kalei_ai_budget_denied_total", "which" => which.as_str(), "feature" => ctx.feature.as_str())
            .increment(1);
        match self.degrade_action(ctx.feature) {
            Some((_, action)) => self.degrade(ctx, action, which, local),
            None => {
                self.finish_metrics(ctx, "budget_denied", LOCAL);
                Err(GatewayError::Budget { which })
            }
        }
    }

    async fn run<T: Output>(
        &self,
        spec: Spec<'_>,
        local: impl FnOnce() -> T,
    ) -> Result<Generated<T>, GatewayError> {
        if let Some(e) = self.crisis_refusal(&spec) {
            return Err(e);
        }
        let f = spec.feature;
        let mut ctx = self.new_ctx(f, spec.user_id, false);
        let mut local = Some(local);
        let targets = self.targets(f, spec.remote_allowed);
        if let Some(r) = self.pressure(&mut ctx, &targets, &mut local).await {
            return r;
        }
        let route = self.inner.cfg.routes.get(f);
        let deadline = ctx.started + Duration::from_millis(route.deadline_ms);
        let prompt_version = self.inner.prompts.version(f).to_string();

        let rendered = if targets.iter().any(|t| t != LOCAL) {
            match self.inner.prompts.render(f, &spec.vars) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(target: "kalei_ai", feature = %f, error = %e, "prompt render failed; serving local");
                    None
                }
            }
        } else {
            None
        };

        // Exact-match cache (deterministic features; per user when personal).
        let cache_key = match &rendered {
            Some((sys, user))
                if self.inner.cfg.cache.enabled && f.cacheable() && targets[0] != LOCAL =>
            {
                let personal = if f.personal() {
                    ctx.user_hash.as_str()
                } else {
                    ""
                };
                let key = seed_hex(&[
                    f.as_str(),
                    &prompt_version,
                    &targets.join(","),
                    personal,
                    sys,
                    user,
                ]);
                Some(format!("ai:cache:{key}"))
            }
            _ => None,
        };
        if let Some(key) = &cache_key {
            if let Some(g) = self.cache_get::<T>(&mut ctx, key, &spec).await {
                return Ok(g);
            }
        }

        let mut last_error = String::from("no target");
        for (i, name) in targets.iter().enumerate() {
            if name == LOCAL {
                let lf = local.take().expect("local once");
                return Ok(self.local_result(&mut ctx, lf(), i > 0, "ok"));
            }
            let Some((sys, user)) = &rendered else {
                continue;
            };
            let remote = self.inner.remotes[name].clone();
            match self
                .try_remote::<T>(
                    &mut ctx,
                    &remote,
                    sys,
                    user,
                    deadline,
                    &spec,
                    &prompt_version,
                )
                .await
            {
                Ok((mut g, raw)) => {
                    g.degraded = i > 0;
                    if let Some(key) = &cache_key {
                        self.cache_put(key, &g, raw).await;
                    }
                    self.finish_metrics(&mut ctx, "ok", name);
                    g.overhead = ctx.started.elapsed().saturating_sub(ctx.provider_wait);
                    g.latency = ctx.started.elapsed();
                    return Ok(g);
                }
                Err(TargetFail::Budget(which)) => {
                    return self.on_budget_denied(&mut ctx, which, &mut local);
                }
                Err(TargetFail::Failed(e)) => {
                    tracing::warn!(target: "kalei_ai", feature = %f, ai_target = %name, error = %e, "target failed; falling back");
                    metrics::counter!("kalei_ai_fallbacks_total", "feature" => f.as_str(), "from" => name.clone())
                        .increment(1);
                    last_error = format!("{name}: {e}");
                }
                Err(TargetFail::Deadline) => {
                    tracing::warn!(target: "kalei_ai", feature = %f, ai_target = %name, "call deadline reached");
                    last_error = format!("{name}: deadline reached");
                    if targets[i + 1..].iter().any(|t| t == LOCAL) {
                        metrics::counter!("kalei_ai_fallbacks_total", "feature" => f.as_str(), "from" => name.clone())
                            .increment(1);
                        let lf = local.take().expect("local once");
                        return Ok(self.local_result(&mut ctx, lf(), true, "ok"));
                    }
                    break;
                }
            }
        }
        self.finish_metrics(&mut ctx, "unavailable", LOCAL);
        Err(GatewayError::Unavailable {
            feature: f,
            last_error,
        })
    }

    pub(crate) fn reservation(
        &self,
        remote: &Remote,
        f: Feature,
        prompt_chars: usize,
    ) -> (i64, i64) {
        let max_out = self.inner.cfg.routes.get(f).max_tokens as i64;
        let est_in = (prompt_chars / 3) as i64 + 16;
        let price = self
            .inner
            .cfg
            .prices
            .get(&remote.cfg.model)
            .unwrap_or(&self.inner.cfg.budgets.fallback_price);
        (
            est_in + max_out,
            price.cost_nanos(est_in as u64, max_out as u64),
        )
    }

    /// Cost of a completion: `usage.cost` when reported, else the price
    /// table (by the answering model, then the target's model), else None.
    pub(crate) fn cost_of(
        &self,
        remote: &Remote,
        model: Option<&str>,
        usage: Option<&crate::openai::WireUsage>,
    ) -> Option<i64> {
        let u = usage?;
        if let Some(c) = u.cost {
            if c.is_finite() && c >= 0.0 {
                return Some((c * 1e9).round() as i64);
            }
        }
        let prices = &self.inner.cfg.prices;
        let price = model
            .and_then(|m| prices.get(m))
            .or_else(|| prices.get(&remote.cfg.model))?;
        Some(price.cost_nanos(u.prompt_tokens, u.completion_tokens))
    }

    /// What the budget counts for a finished attempt (conservative when the
    /// cost or the tokens are unknown).
    pub(crate) fn spend_of(
        &self,
        cost: Option<i64>,
        usage: Option<&crate::openai::WireUsage>,
        reserved: (i64, i64),
    ) -> (i64, i64) {
        match usage {
            Some(u) => {
                let tokens = (u.prompt_tokens + u.completion_tokens) as i64;
                let nanos = cost.unwrap_or_else(|| {
                    self.inner
                        .cfg
                        .budgets
                        .fallback_price
                        .cost_nanos(u.prompt_tokens, u.completion_tokens)
                });
                (tokens, nanos)
            }
            None => reserved,
        }
    }

    pub(crate) fn backoff(&self, retry: u32, hint: Option<Duration>) -> Duration {
        let r = &self.inner.cfg.resilience;
        if let Some(h) = hint {
            return h;
        }
        let cap = r
            .backoff_base_ms
            .saturating_mul(1u64 << retry.min(16))
            .min(r.backoff_max_ms);
        Duration::from_millis(rand::thread_rng().gen_range(0..=cap.max(1)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_remote<T: Output>(
        &self,
        ctx: &mut Ctx,
        remote: &Remote,
        system: &str,
        user: &str,
        deadline: Instant,
        spec: &Spec<'_>,
        prompt_version: &str,
    ) -> Result<(Generated<T>, Value), TargetFail> {
        let f = ctx.feature;
        let inner = &*self.inner;
        let route = inner.cfg.routes.get(f);
        let res = &inner.cfg.resilience;
        let breaker = &inner.breakers[&remote.name];
        let (_, schema) = inner.schemas.get(f);
        let mut messages: Vec<(&str, String)> =
            vec![("system", system.to_string()), ("user", user.to_string())];
        let mut repaired = false;
        let mut retries = 0u32;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(TargetFail::Deadline);
            }
            let Some(permit) = breaker.try_acquire(inner.clock.now_ms()) else {
                return Err(TargetFail::Failed("circuit breaker open".into()));
            };
            let prompt_chars: usize = messages.iter().map(|(_, c)| c.len()).sum();
            let reserved = self.reservation(remote, f, prompt_chars);
            let ticket: Ticket = match inner
                .budgets
                .reserve(&ctx.user_hash, reserved.0, reserved.1)
                .await
            {
                Ok(t) => t,
                Err(which) => {
                    breaker.release(permit);
                    self.meter(
                        ctx,
                        remote,
                        None,
                        None,
                        "budget_denied",
                        None,
                        Duration::ZERO,
                        prompt_version,
                    );
                    return Err(TargetFail::Budget(which));
                }
            };
            let timeout = Duration::from_millis(
                remote
                    .cfg
                    .attempt_timeout_ms
                    .unwrap_or(res.attempt_timeout_ms),
            )
            .min(deadline - now);
            let msgs: Vec<(&str, &str)> = messages.iter().map(|(r, c)| (*r, c.as_str())).collect();
            let body = remote.body(f, schema, &msgs, route.max_tokens, route.temperature, false);
            let t0 = Instant::now();
            let result = self.post(remote, body, timeout).await;
            let waited = t0.elapsed();
            ctx.provider_wait += waited;
            ctx.attempt += 1;
            match result {
                Err(e) => {
                    inner.budgets.release(ticket).await;
                    if e.unhealthy() {
                        breaker.failure(permit, inner.clock.now_ms());
                    } else {
                        breaker.success(permit);
                    }
                    self.meter(
                        ctx,
                        remote,
                        None,
                        None,
                        e.outcome(),
                        None,
                        waited,
                        prompt_version,
                    );
                    if e.retryable() && retries < res.max_retries {
                        let wait = self.backoff(retries, e.retry_after());
                        if e.retry_after()
                            .is_some_and(|w| w.as_millis() as u64 > res.max_retry_after_ms)
                        {
                            return Err(TargetFail::Failed(format!("{e}; Retry-After too long")));
                        }
                        if Instant::now() + wait >= deadline {
                            return Err(TargetFail::Failed(format!("{e}; no time left to retry")));
                        }
                        retries += 1;
                        metrics::counter!("kalei_ai_retries_total", "target" => remote.name.clone())
                            .increment(1);
                        tokio::time::sleep(wait).await;
                        ctx.provider_wait += wait;
                        continue;
                    }
                    return Err(TargetFail::Failed(e.to_string()));
                }
                Ok(c) => {
                    breaker.success(permit);
                    let cost = self.cost_of(remote, c.model.as_deref(), c.usage.as_ref());
                    let (tokens, nanos) = self.spend_of(cost, c.usage.as_ref(), reserved);
                    inner.budgets.reconcile(ticket, tokens, nanos).await;
                    match self.check::<T>(f, &c, spec) {
                        Ok((out, raw)) => {
                            self.meter(
                                ctx,
                                remote,
                                Some(&c),
                                cost,
                                "ok",
                                None,
                                waited,
                                prompt_version,
                            );
                            let usage = c
                                .usage
                                .as_ref()
                                .map(|u| Usage {
                                    tokens_in: u.prompt_tokens,
                                    tokens_out: u.completion_tokens,
                                })
                                .unwrap_or_default();
                            let g = Generated {
                                output: out,
                                model: c.model.clone().unwrap_or_else(|| remote.cfg.model.clone()),
                                provider: c.provider.clone().unwrap_or_else(|| remote.name.clone()),
                                target: remote.name.clone(),
                                prompt_version: prompt_version.to_string(),
                                usage,
                                cost_nanos: cost,
                                cached: false,
                                degraded: false,
                                latency: Duration::ZERO,
                                overhead: Duration::ZERO,
                            };
                            return Ok((g, raw));
                        }
                        Err(p) => {
                            self.meter(
                                ctx,
                                remote,
                                Some(&c),
                                cost,
                                p.outcome(),
                                None,
                                waited,
                                prompt_version,
                            );
                            tracing::warn!(target: "kalei_ai", feature = %f, ai_target = %remote.name, problem = %p.log_text(), repaired, "rejected model output");
                            if !repaired {
                                repaired = true;
                                metrics::counter!("kalei_ai_repairs_total", "feature" => f.as_str())
                                    .increment(1);
                                messages.push(("assistant", c.content.clone()));
                                messages.push(("user", p.repair_message()));
                                continue;
                            }
                            return Err(TargetFail::Failed(p.log_text()));
                        }
                    }
                }
            }
        }
    }

    /// Parses, validates and safety-checks an answer.
    pub(crate) fn check<T: Output>(
        &self,
        f: Feature,
        c: &Completion,
        spec: &Spec<'_>,
    ) -> Result<(T, Value), Problem> {
        match c.finish_reason.as_deref() {
            Some("length") => {
                return Err(Problem::Invalid(
                    "the answer was cut off (finish_reason length); answer more briefly".into(),
                ))
            }
            Some("content_filter") => {
                return Err(Problem::Invalid("the answer was filtered".into()))
            }
            _ => {}
        }
        let v = extract_json(&c.content).map_err(Problem::Invalid)?;
        self.inner
            .schemas
            .validate(f, &v)
            .map_err(Problem::Invalid)?;
        let out = T::parse(v.clone(), spec.input).map_err(Problem::Invalid)?;
        safety::check_output(f, &out.texts(), spec.check_against).map_err(Problem::Unsafe)?;
        Ok((out, v))
    }

    async fn post(
        &self,
        remote: &Remote,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Completion, AttemptError> {
        let mut rb = self
            .inner
            .http
            .post(&remote.url)
            .header(CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body(body);
        if let Some(a) = &remote.auth {
            rb = rb.header(AUTHORIZATION, a);
        }
        let resp = rb.send().await.map_err(classify)?;
        let status = resp.status();
        if !status.is_success() {
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, self.inner.clock.now_ms()));
            return Err(AttemptError::Status {
                code: status.as_u16(),
                retry_after,
            });
        }
        let bytes = resp.bytes().await.map_err(classify)?;
        parse_completion(&bytes).map_err(AttemptError::Decode)
    }

    pub(crate) fn local_result<T: Output>(
        &self,
        ctx: &mut Ctx,
        output: T,
        degraded: bool,
        outcome: &'static str,
    ) -> Generated<T> {
        ctx.attempt += 1;
        let ev = UsageEvent {
            call_id: ctx.call_id.clone(),
            attempt: ctx.attempt,
            user_hash: ctx.user_hash.clone(),
            feature: ctx.feature.as_str(),
            target: LOCAL.into(),
            provider: LOCAL.into(),
            model: LOCAL.into(),
            prompt_version: LOCAL_VERSION.into(),
            config_hash: self.inner.config_hash.clone(),
            tokens_in: 0,
            tokens_out: 0,
            cost_nanos: Some(0),
            latency_ms: ctx.started.elapsed().as_millis() as i64,
            provider_ms: 0,
            outcome,
            streamed: ctx.streamed,
            created_at: self.inner.clock.now_ms(),
        };
        self.send_event(ev);
        self.finish_metrics(ctx, if degraded { "degraded" } else { "ok" }, LOCAL);
        Generated {
            output,
            model: LOCAL.into(),
            provider: LOCAL.into(),
            target: LOCAL.into(),
            prompt_version: LOCAL_VERSION.into(),
            usage: Usage::default(),
            cost_nanos: Some(0),
            cached: false,
            degraded,
            latency: ctx.started.elapsed(),
            overhead: ctx.started.elapsed().saturating_sub(ctx.provider_wait),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn meter(
        &self,
        ctx: &Ctx,
        remote: &Remote,
        c: Option<&Completion>,
        cost: Option<i64>,
        outcome: &'static str,
        tokens_override: Option<(u64, u64)>,
        waited: Duration,
        prompt_version: &str,
    ) {
        let (tin, tout) = tokens_override.unwrap_or_else(|| {
            c.and_then(|c| c.usage.as_ref())
                .map(|u| (u.prompt_tokens, u.completion_tokens))
                .unwrap_or((0, 0))
        });
        let model = c
            .and_then(|c| c.model.clone())
            .unwrap_or_else(|| remote.cfg.model.clone());
        let provider = c
            .and_then(|c| c.provider.clone())
            .unwrap_or_else(|| remote.name.clone());
        let f = ctx.feature.as_str();
        metrics::counter!("kalei_ai_attempts_total", "feature" => f, "target" => remote.name.clone(), "outcome" => outcome)
            .increment(1);
        if tin + tout > 0 {
            metrics::counter!("kalei_ai_tokens_total", "feature" => f, "model" => remote.cfg.model.clone(), "direction" => "in")
                .increment(tin);
            metrics::counter!("kalei_ai_tokens_total", "feature" => f, "model" => remote.cfg.model.clone(), "direction" => "out")
                .increment(tout);
        }
        if let Some(n) = cost {
            metrics::counter!("kalei_ai_cost_nanos_total", "feature" => f, "model" => remote.cfg.model.clone())
                .increment(n.max(0) as u64);
        }
        let ev = UsageEvent {
            call_id: ctx.call_id.clone(),
            attempt: ctx.attempt,
            user_hash: ctx.user_hash.clone(),
            feature: f,
            target: remote.name.clone(),
            provider,
            model,
            prompt_version: prompt_version.to_string(),
            config_hash: self.inner.config_hash.clone(),
            tokens_in: tin as i64,
            tokens_out: tout as i64,
            cost_nanos: cost,
            latency_ms: ctx.started.elapsed().as_millis() as i64,
            provider_ms: waited.as_millis() as i64,
            outcome,
            streamed: ctx.streamed,
            created_at: self.inner.clock.now_ms(),
        };
        self.send_event(ev);
    }

    pub(crate) fn send_event(&self, ev: UsageEvent) {
        if self
            .inner
            .usage_tx
            .try_send(Msg::Event(Box::new(ev)))
            .is_err()
        {
            metrics::counter!("kalei_ai_usage_events_dropped_total").increment(1);
        }
    }

    pub(crate) fn finish_metrics(&self, ctx: &mut Ctx, outcome: &'static str, target: &str) {
        let f = ctx.feature.as_str();
        metrics::counter!("kalei_ai_calls_total", "feature" => f, "outcome" => outcome, "target" => target.to_string())
            .increment(1);
        let overhead = ctx.started.elapsed().saturating_sub(ctx.provider_wait);
        metrics::histogram!("kalei_ai_overhead_seconds", "feature" => f)
            .record(overhead.as_secs_f64());
    }

    async fn cache_get<T: Output>(
        &self,
        ctx: &mut Ctx,
        key: &str,
        spec: &Spec<'_>,
    ) -> Option<Generated<T>> {
        let bytes = match self.inner.counters.cache_get(key).await {
            Ok(Some(b)) => b,
            Ok(None) => {
                metrics::counter!("kalei_ai_cache_total", "result" => "miss").increment(1);
                return None;
            }
            Err(e) => {
                tracing::warn!(target: "kalei_ai", error = %e, "AI cache read failed");
                return None;
            }
        };
        let entry: CachedEntry = serde_json::from_slice(&bytes).ok()?;
        let out = T::parse(entry.output, spec.input).ok()?;
        metrics::counter!("kalei_ai_cache_total", "result" => "hit").increment(1);
        ctx.attempt += 1;
        self.send_event(UsageEvent {
            call_id: ctx.call_id.clone(),
            attempt: ctx.attempt,
            user_hash: ctx.user_hash.clone(),
            feature: ctx.feature.as_str(),
            target: entry.target.clone(),
            provider: entry.provider.clone(),
            model: entry.model.clone(),
            prompt_version: entry.prompt_version.clone(),
            config_hash: self.inner.config_hash.clone(),
            tokens_in: 0,
            tokens_out: 0,
            cost_nanos: Some(0),
            latency_ms: ctx.started.elapsed().as_millis() as i64,
            provider_ms: 0,
            outcome: "cache_hit",
            streamed: false,
            created_at: self.inner.clock.now_ms(),
        });
        self.finish_metrics(ctx, "cache_hit", &entry.target);
        Some(Generated {
            output: out,
            model: entry.model,
            provider: entry.provider,
            target: entry.target,
            prompt_version: entry.prompt_version,
            usage: Usage::default(),
            cost_nanos: Some(0),
            cached: true,
            degraded: false,
            latency: ctx.started.elapsed(),
            overhead: ctx.started.elapsed(),
        })
    }

    async fn cache_put<T: Output>(&self, key: &str, g: &Generated<T>, raw: Value) {
        let entry = CachedEntry {
            output: raw,
            model: g.model.clone(),
            provider: g.provider.clone(),
            target: g.target.clone(),
            prompt_version: g.prompt_version.clone(),
        };
        if let Ok(bytes) = serde_json::to_vec(&entry) {
            let ttl = Duration::from_secs(self.inner.cfg.cache.ttl_secs);
            if let Err(e) = self.inner.counters.cache_set(key, &bytes, ttl).await {
                tracing::warn!(target: "kalei_ai", error = %e, "AI cache write failed");
            }
        }
    }
}

pub(crate) fn user_hash(user_id: &str) -> String {
    seed_hex(&["kalei-ai-user", user_id])[..32].to_string()
}

fn seed_hex(parts: &[&str]) -> String {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    h.finalize().to_hex().to_string()
}

pub(crate) fn turn_spec(req: &TurnRequest) -> (Spec<'_>, impl FnOnce() -> TurnOutput) {
    let a = &req.analysis;
    let mut seen = Vec::new();
    let distortions: Vec<Value> = a
        .fragments
        .iter()
        .filter(|fr| {
            if seen.contains(&fr.r#type) {
                false
            } else {
                seen.push(fr.r#type);
                true
            }
        })
        .take(3)
        .map(|fr| json!({"label": fr.r#type.label(), "explanation": fr.r#type.explanation()}))
        .collect();
    let spec = Spec {
        feature: Feature::Turn,
        user_id: &req.user_id,
        remote_allowed: req.remote_allowed,
        vars: json!({
            "thought": req.thought,
            "distortions": distortions,
            "feelings": feelings(&a.emotions),
        }),
        input: &req.thought,
        analysis: Some(&req.analysis),
        check_against: &[],
    };
    let d = dominant_distortion(&a.fragments);
    let e = a.emotions;
    let seed = seed_of(&[&req.user_id, &req.thought]);
    (spec, move || TurnOutput {
        reframes: tpl::reframes(d, &e, seed).to_vec(),
        micro_action: tpl::micro_action(d, &e, seed),
    })
}
