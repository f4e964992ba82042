#![allow(dead_code)]

pub mod mock;

use std::sync::Arc;

use kalei_ai::{Feature, Gateway, GatewayConfig, RemoteTarget, Secret, TargetConfig, TurnRequest};
use kalei_store::counters::{MemoryCounters, RedisCounters, SharedCounters};
use kalei_store::testing::TestDb;
use kalei_store::{Clock, SystemClock};

/// A remote target pointing at a mock.
pub fn remote(base_url: &str, model: &str) -> TargetConfig {
    TargetConfig::OpenaiCompatible(RemoteTarget {
        base_url: base_url.to_string(),
        api_key: Some(Secret::new("sk-test-secret")),
        model: model.to_string(),
        provider: None,
        models: Vec::new(),
        structured_outputs: true,
        attempt_timeout_ms: None,
    })
}

/// Config with the given targets and one route (target names) for every
/// feature; fast retries for tests.
pub fn config(targets: &[(&str, TargetConfig)], route: &[&str]) -> GatewayConfig {
    let mut c = GatewayConfig::default();
    for (n, t) in targets {
        c.targets.insert(n.to_string(), t.clone());
    }
    for f in Feature::ALL {
        c.routes.get_mut(f).targets = route.iter().map(|s| s.to_string()).collect();
    }
    c.resilience.backoff_base_ms = 5;
    c.resilience.backoff_max_ms = 40;
    c.resilience.attempt_timeout_ms = 2_000;
    c.resilience.ttft_timeout_ms = 400;
    c.resilience.stream_idle_timeout_ms = 400;
    c
}

pub async fn gateway(t: &TestDb, cfg: GatewayConfig) -> Gateway {
    gateway_with(
        t,
        cfg,
        Arc::new(MemoryCounters::new()),
        Arc::new(SystemClock),
    )
    .await
}

pub async fn gateway_with(
    t: &TestDb,
    cfg: GatewayConfig,
    counters: SharedCounters,
    clock: Arc<dyn Clock>,
) -> Gateway {
    Gateway::new(cfg, t.db.clone(), counters, clock)
        .await
        .expect("gateway")
}

/// Memory counters, plus Redis ones (a fresh key prefix) when configured.
pub async fn counter_backends() -> Vec<(&'static str, SharedCounters)> {
    let mut v: Vec<(&'static str, SharedCounters)> =
        vec![("memory", Arc::new(MemoryCounters::new()))];
    if let Some(url) = kalei_store::testing::service_url(kalei_store::testing::REDIS_ENV) {
        let prefix = format!("kalei-ai-test-{}", uuid_like());
        let r = RedisCounters::connect(&url, &prefix).await.expect("redis");
        v.push(("redis", Arc::new(r)));
    }
    v
}

pub fn uuid_like() -> String {
    kalei_store::new_id().replace('-', "")
}

pub fn turn_req(user: &str, thought: &str) -> TurnRequest {
    TurnRequest {
        user_id: user.to_string(),
        thought: thought.to_string(),
        analysis: kalei_analysis::analyze(thought),
        remote_allowed: true,
    }
}

pub const THOUGHT: &str = "I always mess everything up at work and everyone thinks I'm useless.";
