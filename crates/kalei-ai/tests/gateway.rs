//! Gateway behaviour against a mock OpenAI-compatible server over real HTTP
//! on loopback. DB-touching tests run on SQLite and Postgres (`db_test!`);
//! budget tests on memory and Redis counters.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::mock::{valid_content, Mock, MockConfig, Reply};
use common::*;
use futures::StreamExt;
use kalei_ai::*;
use kalei_analysis::templates::{PeriodSummary, SessionSummary};
use kalei_store::clock::ManualClock;
use kalei_store::counters::MemoryCounters;
use kalei_store::testing::{Backend, TestDb};
use kalei_store::SystemClock;
use serde_json::{json, Value};
use sqlx::Row;

async fn sqlite() -> TestDb {
    TestDb::new(Backend::Sqlite).await.unwrap()
}

fn is_turn_valid(o: &TurnOutput) {
    assert_eq!(o.reframes.len(), 3);
    let mut styles: Vec<_> = o.reframes.iter().map(|r| r.style.as_str()).collect();
    styles.dedup();
    assert_eq!(styles.len(), 3);
    assert!((1..=30).contains(&o.micro_action.minutes));
}

async fn usage_rows(t: &TestDb) -> Vec<sqlx::any::AnyRow> {
    sqlx::query(
        "SELECT call_id, attempt, user_hash, feature, target, provider, model, prompt_version, \
         tokens_in, tokens_out, cost_nanos, outcome, streamed, config_hash FROM ai_usage_events \
         ORDER BY id",
    )
    .fetch_all(t.db.pool())
    .await
    .unwrap()
}

kalei_store::db_test! {
    async fn records_model_cost_and_prompt_version(t) {
        let mock = Mock::start(MockConfig {
            model: Some("deepseek/deepseek-v3.2-20251201".into()),
            provider: Some("DeepInfra".into()),
            cost: Some(0.000123),
            ..Default::default()
        })
        .await;
        let gw = gateway(&t, config(&[("ds", remote(&mock.base_url, "deepseek/deepseek-v3.2"))], &["ds", "local"])).await;
        let g = gw.turn(&turn_req("user-1", THOUGHT)).await.unwrap();
        is_turn_valid(&g.output);
        assert_eq!(g.model, "deepseek/deepseek-v3.2-20251201", "the model that answered");
        assert_eq!(g.provider, "DeepInfra");
        assert_eq!(g.target, "ds");
        assert_eq!(g.cost_nanos, Some(123_000));
        assert!(!g.degraded && !g.cached);
        assert_eq!(g.prompt_version, gw.prompt_version(Feature::Turn));
        assert!(g.usage.tokens_in > 0 && g.usage.tokens_out > 0);

        gw.flush().await;
        let rows = usage_rows(&t).await;
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.get::<String, _>("outcome"), "ok");
        assert_eq!(r.get::<String, _>("feature"), "turn");
        assert_eq!(r.get::<String, _>("model"), "deepseek/deepseek-v3.2-20251201");
        assert_eq!(r.get::<String, _>("provider"), "DeepInfra");
        assert_eq!(r.get::<Option<i64>, _>("cost_nanos"), Some(123_000));
        assert_eq!(r.get::<String, _>("prompt_version"), gw.prompt_version(Feature::Turn));
        assert_eq!(r.get::<String, _>("config_hash"), gw.config_hash());
        assert_eq!(r.get::<i64, _>("tokens_in") as u64, g.usage.tokens_in);
        assert_eq!(r.get::<i64, _>("streamed"), 0);
        let uh = r.get::<String, _>("user_hash");
        assert_eq!(uh, gw.user_hash("user-1"));
        assert!(!uh.contains("user-1"));

        // Every prompt revision is registered once, with its text.
        let revs = sqlx::query("SELECT name, version, text, activated_at FROM prompt_revisions ORDER BY name")
            .fetch_all(t.db.pool()).await.unwrap();
        assert_eq!(revs.len(), Feature::ALL.len());
        for r in &revs {
            let name: String = r.get("name");
            let f = Feature::ALL.iter().find(|f| f.as_str() == name).unwrap();
            assert_eq!(r.get::<String, _>("version"), gw.prompt_version(*f));
            assert!(r.get::<String, _>("text").contains("## schema"));
        }
        // A restart with the same prompts adds nothing.
        let first_at: i64 = revs[0].get("activated_at");
        let gw2 = gateway(&t, GatewayConfig::default()).await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prompt_revisions").fetch_one(t.db.pool()).await.unwrap();
        assert_eq!(n, Feature::ALL.len() as i64);
        let again: i64 = sqlx::query_scalar("SELECT activated_at FROM prompt_revisions WHERE name = $1")
            .bind(revs[0].get::<String, _>("name")).fetch_one(t.db.pool()).await.unwrap();
        assert_eq!(again, first_at);
        drop(gw2);
    }
}

kalei_store::db_test! {
    async fn cost_from_price_table_else_null(t) {
        let mock = Mock::start(MockConfig::default()).await; // no usage.cost
        let mut cfg = config(
            &[("priced", remote(&mock.base_url, "priced-model")), ("unpriced", remote(&mock.base_url, "mystery-model"))],
            &["priced", "local"],
        );
        cfg.prices.insert("priced-model".into(), Price { input_usd_per_mtok: 0.26, output_usd_per_mtok: 0.38 });
        cfg.routes.lens.targets = vec!["unpriced".into(), "local".into()];
        let gw = gateway(&t, cfg).await;
        let g = gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
        let want = (g.usage.tokens_in as f64 * 260.0 + g.usage.tokens_out as f64 * 380.0).ceil() as i64;
        assert_eq!(g.cost_nanos, Some(want));
        let l = gw.lens(&LensRequest { user_id: "u".into(), emotions: None, seed: 1, remote_allowed: true }).await.unwrap();
        assert_eq!(l.target, "unpriced");
        assert_eq!(l.cost_nanos, None, "unknown cost is None, not 0");
        gw.flush().await;
        let rows = usage_rows(&t).await;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].get::<Option<i64>, _>("cost_nanos"), Some(want));
        assert_eq!(rows[1].get::<Option<i64>, _>("cost_nanos"), None);
    }
}

#[tokio::test]
async fn openrouter_pinning_and_structured_output_are_sent() {
    let t = sqlite().await;
    let mock = Mock::start(MockConfig::default()).await;
    let mut target = remote(&mock.base_url, "deepseek/deepseek-v3.2");
    let TargetConfig::OpenaiCompatible(r) = &mut target;
    r.provider = Some(
        json!({"only": ["deepinfra", "fireworks"], "allow_fallbacks": false,
        "require_parameters": true, "data_collection": "deny"}),
    );
    r.models = vec!["anthropic/claude-haiku-4.5".into()];
    let gw = gateway(&t, config(&[("or", target)], &["or", "local"])).await;
    gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
    let req = &mock.requests()[0];
    assert_eq!(req["model"], "deepseek/deepseek-v3.2");
    assert_eq!(req["provider"]["only"], json!(["deepinfra", "fireworks"]));
    assert_eq!(req["provider"]["allow_fallbacks"], false);
    assert_eq!(req["provider"]["require_parameters"], true);
    assert_eq!(req["provider"]["data_collection"], "deny");
    assert_eq!(req["models"], json!(["anthropic/claude-haiku-4.5"]));
    assert_eq!(req["usage"]["include"], true);
    assert_eq!(req["response_format"]["type"], "json_schema");
    assert_eq!(req["response_format"]["json_schema"]["strict"], true);
    assert_eq!(req["response_format"]["json_schema"]["name"], "turn");
    assert_eq!(req["messages"][0]["role"], "system");
    assert!(req["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains("mess everything up"));
}

kalei_store::db_test! {
    async fn fallback_order_then_local(t) {
        let bad = Mock::start(MockConfig { fail_rate: 1.0, ..Default::default() }).await;
        let good = Mock::start(MockConfig::default()).await;
        let mut cfg = config(
            &[("primary", remote(&bad.base_url, "a")), ("secondary", remote(&good.base_url, "b"))],
            &["primary", "secondary", "local"],
        );
        cfg.resilience.max_retries = 2;
        cfg.breaker.failure_threshold = 100;
        let gw = gateway(&t, cfg).await;
        let g = gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
        assert_eq!(g.target, "secondary");
        assert!(g.degraded);
        assert_eq!(bad.calls(), 3, "1 attempt + 2 retries on the primary");
        assert_eq!(good.calls(), 1);

        // Both remote targets down: local, still schema-valid.
        good.set(|c| c.fail_rate = 1.0);
        let g = gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
        assert_eq!(g.target, "local");
        assert_eq!(g.model, "local");
        assert!(g.degraded);
        is_turn_valid(&g.output);
        gw.flush().await;
        let outcomes: Vec<(String, String)> = usage_rows(&t).await.iter()
            .map(|r| (r.get::<String, _>("target"), r.get::<String, _>("outcome"))).collect();
        assert_eq!(outcomes.iter().filter(|(_, o)| o == "server_error").count(), 9);
        assert_eq!(outcomes.last().unwrap(), &("local".to_string(), "ok".to_string()));
    }
}

#[tokio::test]
async fn route_without_local_reports_unavailable() {
    let t = sqlite().await;
    let bad = Mock::start(MockConfig {
        fail_rate: 1.0,
        ..Default::default()
    })
    .await;
    let mut cfg = config(&[("only", remote(&bad.base_url, "a"))], &["only"]);
    cfg.resilience.max_retries = 0;
    let gw = gateway(&t, cfg).await;
    match gw.turn(&turn_req("u", THOUGHT)).await {
        Err(GatewayError::Unavailable {
            feature,
            last_error,
        }) => {
            assert_eq!(feature, Feature::Turn);
            assert!(last_error.contains("HTTP 500"), "{last_error}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn thirty_percent_500s_are_retried_away() {
    let t = sqlite().await;
    let mock = Mock::start(MockConfig {
        fail_rate: 0.3,
        ..Default::default()
    })
    .await;
    let mut cfg = config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]);
    cfg.resilience.max_retries = 3;
    cfg.breaker.failure_threshold = 1000;
    let gw = gateway(&t, cfg).await;
    let calls = (0..40).map(|i| {
        let gw = gw.clone();
        async move { gw.turn(&turn_req(&format!("u{i}"), THOUGHT)).await }
    });
    let results = futures::future::join_all(calls).await;
    let remote_ok = results
        .iter()
        .filter(|r| r.as_ref().unwrap().target == "r")
        .count();
    assert!(results.iter().all(|r| r.is_ok()));
    assert!(remote_ok >= 38, "only {remote_ok}/40 served remotely");
    assert!(mock.calls() > 40, "some calls were retried");
}

#[tokio::test]
async fn retry_after_is_honoured_or_skipped_when_too_long() {
    let t = sqlite().await;
    let mock = Mock::start(MockConfig::default()).await;
    let other = Mock::start(MockConfig::default()).await;
    let mut cfg = config(
        &[
            ("r", remote(&mock.base_url, "m")),
            ("o", remote(&other.base_url, "m2")),
        ],
        &["r", "o", "local"],
    );
    cfg.resilience.max_retry_after_ms = 2_000;
    let gw = gateway(&t, cfg).await;
    mock.script([Reply::RateLimited(1)]);
    let started = Instant::now();
    let g = gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
    assert_eq!(g.target, "r");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited for Retry-After"
    );
    assert_eq!(mock.calls(), 2);
    // Longer than allowed: straight to the next target.
    mock.script([Reply::RateLimited(30)]);
    let started = Instant::now();
    let g = gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
    assert_eq!(g.target, "o");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn breaker_opens_half_opens_and_closes() {
    let t = sqlite().await;
    let mock = Mock::start(MockConfig {
        fail_rate: 1.0,
        ..Default::default()
    })
    .await;
    let clock = ManualClock::new(1_700_000_000_000);
    let mut cfg = config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]);
    cfg.resilience.max_retries = 0;
    cfg.breaker = BreakerConfig {
        failure_threshold: 3,
        open_ms: 10_000,
        half_open_probes: 1,
    };
    let gw = gateway_with(
        &t,
        cfg,
        Arc::new(MemoryCounters::new()),
        Arc::new(clock.clone()),
    )
    .await;
    assert_eq!(gw.breaker_state("r"), Some(BreakerState::Closed));
    for _ in 0..3 {
        assert_eq!(
            gw.turn(&turn_req("u", THOUGHT)).await.unwrap().target,
            "local"
        );
    }
    assert_eq!(mock.calls(), 3);
    assert_eq!(gw.breaker_state("r"), Some(BreakerState::Open));
    // Open: no request goes out.
    assert_eq!(
        gw.turn(&turn_req("u", THOUGHT)).await.unwrap().target,
        "local"
    );
    assert_eq!(mock.calls(), 3);
    // Half-open after open_ms; a failed probe opens it again.
    clock.advance_ms(10_000);
    assert_eq!(gw.breaker_state("r"), Some(BreakerState::HalfOpen));
    gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
    assert_eq!(mock.calls(), 4);
    assert_eq!(gw.breaker_state("r"), Some(BreakerState::Open));
    gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
    assert_eq!(mock.calls(), 4);
    // Provider healthy again: the next probe closes it.
    mock.set(|c| c.fail_rate = 0.0);
    clock.advance_ms(10_000);
    let g = gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
    assert_eq!(g.target, "r");
    assert_eq!(gw.breaker_state("r"), Some(BreakerState::Closed));
}

kalei_store::db_test! {
    async fn repair_attempt_feeds_the_error_back(t) {
        let mock = Mock::start(MockConfig::default()).await;
        let gw = gateway(&t, config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"])).await;
        mock.script([Reply::Content("Sure! Here are some reframes: not json".into())]);
        let g = gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
        assert_eq!(g.target, "r");
        assert_eq!(mock.calls(), 2);
        let second = &mock.requests()[1];
        let msgs = second["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 4);
        assert_eq!(msgs[2]["role"], "assistant");
        assert_eq!(msgs[2]["content"], "Sure! Here are some reframes: not json");
        assert!(msgs[3]["content"].as_str().unwrap().contains("rejected"), "{}", msgs[3]);

        // Unsafe content (medication advice) is repaired the same way.
        let mut unsafe_turn: Value = serde_json::from_str(&valid_content("turn")).unwrap();
        unsafe_turn["micro_action"]["text"] = json!("Stop taking your meds for a day and notice how you feel.");
        mock.script([Reply::Content(unsafe_turn.to_string())]);
        let g = gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
        assert_eq!(g.target, "r");
        let repair = &mock.requests()[3]["messages"][3]["content"];
        assert!(repair.as_str().unwrap().contains("content rule"), "{repair}");

        // Schema-breaking twice (2 reframes): the next target (local).
        let mut two: Value = serde_json::from_str(&valid_content("turn")).unwrap();
        two["reframes"].as_array_mut().unwrap().pop();
        mock.script([Reply::Content(two.to_string()), Reply::Content(two.to_string())]);
        let g = gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
        assert_eq!(g.target, "local");
        is_turn_valid(&g.output);
        gw.flush().await;
        let outcomes: Vec<String> = usage_rows(&t).await.iter().map(|r| r.get::<String, _>("outcome")).collect();
        assert_eq!(outcomes, ["invalid_output", "ok", "unsafe_output", "ok", "invalid_output", "invalid_output", "ok"]);
    }
}

#[tokio::test]
async fn duplicate_styles_and_garbage_bodies_are_rejected() {
    let t = sqlite().await;
    let mock = Mock::start(MockConfig::default()).await;
    let mut cfg = config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]);
    cfg.resilience.max_retries = 1;
    let gw = gateway(&t, cfg).await;
    let mut dup: Value = serde_json::from_str(&valid_content("turn")).unwrap();
    dup["reframes"][1]["style"] = dup["reframes"][0]["style"].clone();
    mock.script([Reply::Content(dup.to_string()), Reply::Ok]);
    assert_eq!(gw.turn(&turn_req("u", THOUGHT)).await.unwrap().target, "r");
    // A 200 that is not a completion counts as a failed attempt and is retried.
    mock.script([Reply::Garbage]);
    assert_eq!(gw.turn(&turn_req("u", THOUGHT)).await.unwrap().target, "r");
    assert_eq!(mock.calls(), 4);
}

#[tokio::test]
async fn consent_withdrawn_and_crisis_never_reach_the_provider() {
    let t = sqlite().await;
    let mock = Mock::start(MockConfig::default()).await;
    let gw = gateway(
        &t,
        config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]),
    )
    .await;
    let mut req = turn_req("u", THOUGHT);
    req.remote_allowed = false;
    let g = gw.turn(&req).await.unwrap();
    assert_eq!(g.model, "local");
    assert!(!g.degraded);
    is_turn_valid(&g.output);
    let r = gw
        .spectrum_weekly(&InsightRequest {
            user_id: "u".into(),
            summary: PeriodSummary::default(),
            check_against: vec![],
            remote_allowed: false,
        })
        .await
        .unwrap();
    assert_eq!(r.target, "local");

    let crisis = turn_req(
        "u",
        "I want to kill myself tonight, I already have the pills ready.",
    );
    assert!(crisis.analysis.crisis.level.bypasses());
    assert!(matches!(gw.turn(&crisis).await, Err(GatewayError::Crisis)));
    // Even if the caller's analysis missed it, the gateway screens the text.
    let mut sneaky = crisis.clone();
    sneaky.analysis = kalei_analysis::analyze("a calm day");
    assert!(matches!(gw.turn(&sneaky).await, Err(GatewayError::Crisis)));
    let mut s = gw.turn_stream(crisis);
    assert!(matches!(s.next().await, Some(Err(GatewayError::Crisis))));
    assert_eq!(mock.calls(), 0);
}

#[tokio::test]
async fn deadline_falls_back_to_local_in_time() {
    let t = sqlite().await;
    let mock = Mock::start(MockConfig {
        delay: Duration::from_secs(3),
        ..Default::default()
    })
    .await;
    let mut cfg = config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]);
    cfg.routes.turn.deadline_ms = 400;
    let gw = gateway(&t, cfg).await;
    let started = Instant::now();
    let g = gw.turn(&turn_req("u", THOUGHT)).await.unwrap();
    assert_eq!(g.target, "local");
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
}

kalei_store::db_test! {
    async fn cache_only_for_deterministic_calls_and_per_user(t) {
        let text = "Honestly, I always mess everything up at work.";
        let frag = json!({"fragments": [{"type": "overgeneralization", "quote": "I always mess everything up",
            "explanation": "One event is taken to stand for every time.", "confidence": 0.8}]}).to_string();
        let mock = Mock::start(MockConfig { content: Some(frag), ..Default::default() }).await;
        let mut cfg = config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]);
        cfg.routes.turn.targets = vec!["r".into(), "local".into()];
        let gw = gateway(&t, cfg).await;
        let req = |user: &str| FragmentsRequest {
            user_id: user.into(), text: text.into(), analysis: kalei_analysis::analyze(text), remote_allowed: true,
        };
        let a = gw.mirror_fragments(&req("alice")).await.unwrap();
        assert!(!a.cached);
        assert_eq!(a.output.fragments[0].start, 10);
        assert_eq!(a.output.fragments[0].text, "I always mess everything up");
        let b = gw.mirror_fragments(&req("alice")).await.unwrap();
        assert!(b.cached);
        assert_eq!(b.output, a.output);
        assert_eq!(b.cost_nanos, Some(0));
        assert_eq!(mock.calls(), 1);
        // Personal content is never shared across users.
        let c = gw.mirror_fragments(&req("bob")).await.unwrap();
        assert!(!c.cached);
        assert_eq!(mock.calls(), 2);
        // Errors are not cached.
        let other = "Everyone at the party must have thought I was boring.";
        let req2 = FragmentsRequest { user_id: "alice".into(), text: other.into(),
            analysis: kalei_analysis::analyze(other), remote_allowed: true };
        mock.set(|c| c.fail_rate = 1.0);
        let d = gw.mirror_fragments(&req2).await.unwrap();
        assert_eq!(d.target, "local");
        mock.set(|c| { c.fail_rate = 0.0; c.content = Some(r#"{"fragments": []}"#.into()); });
        let n = mock.calls();
        let e = gw.mirror_fragments(&req2).await.unwrap();
        assert_eq!((e.target.as_str(), e.cached), ("r", false));
        assert_eq!(mock.calls(), n + 1);
        // Generative calls (Turn) are never cached.
        mock.set(|c| c.content = None);
        let n = mock.calls();
        gw.turn(&turn_req("alice", THOUGHT)).await.unwrap();
        let g = gw.turn(&turn_req("alice", THOUGHT)).await.unwrap();
        assert!(!g.cached);
        assert_eq!(mock.calls(), n + 2);
        gw.flush().await;
        let hits: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ai_usage_events WHERE outcome = 'cache_hit'")
            .fetch_one(t.db.pool()).await.unwrap();
        assert_eq!(hits, 1);
    }
}

#[tokio::test]
async fn every_feature_round_trips_remote_and_local() {
    let t = sqlite().await;
    let mock = Mock::start(MockConfig::default()).await;
    let gw = gateway(
        &t,
        config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]),
    )
    .await;
    let analysis = kalei_analysis::analyze(THOUGHT);
    let fragment = analysis.fragments[0].clone();
    for remote_allowed in [true, false] {
        let want = if remote_allowed { "r" } else { "local" };
        let g = gw
            .mirror_reframe(&MirrorReframeRequest {
                user_id: "u".into(),
                fragment: fragment.clone(),
                analysis: analysis.clone(),
                remote_allowed,
            })
            .await
            .unwrap();
        assert_eq!((g.target.as_str(), g.output.reframes.len()), (want, 3));
        let g = gw
            .mirror_reflection(&ReflectionRequest {
                user_id: "u".into(),
                summary: SessionSummary {
                    message_count: 3,
                    ..Default::default()
                },
                remote_allowed,
            })
            .await
            .unwrap();
        assert_eq!(g.target, want);
        assert!(!g.output.text.is_empty());
        let g = gw
            .lens(&LensRequest {
                user_id: "u".into(),
                emotions: Some(analysis.emotions),
                seed: 3,
                remote_allowed,
            })
            .await
            .unwrap();
        assert_eq!(g.target, want);
        let req = InsightRequest {
            user_id: "u".into(),
            summary: PeriodSummary {
                sessions: 2,
                turns: 1,
                ..Default::default()
            },
            check_against: vec![THOUGHT.into()],
            remote_allowed,
        };
        assert_eq!(gw.spectrum_weekly(&req).await.unwrap().target, want);
        assert_eq!(gw.spectrum_monthly(&req).await.unwrap().target, want);
    }
    let names: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| {
            r["response_format"]["json_schema"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "mirror_reframe",
            "mirror_reflection",
            "lens",
            "spectrum_weekly",
            "spectrum_monthly"
        ]
    );
    // Spectrum prompts carry aggregates only: never the user's text.
    for r in mock.requests() {
        if r["response_format"]["json_schema"]["name"]
            .as_str()
            .unwrap()
            .starts_with("spectrum")
        {
            assert!(!r["messages"].to_string().contains("mess everything up"));
        }
    }
}

#[tokio::test]
async fn insight_quoting_the_user_is_repaired_then_local() {
    let t = sqlite().await;
    let quoting = json!({"text": "You wrote that you always mess everything up at work and everyone thinks so."}).to_string();
    let mock = Mock::start(MockConfig {
        content: Some(quoting),
        ..Default::default()
    })
    .await;
    let gw = gateway(
        &t,
        config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]),
    )
    .await;
    let g = gw
        .spectrum_weekly(&InsightRequest {
            user_id: "u".into(),
            summary: PeriodSummary {
                sessions: 1,
                ..Default::default()
            },
            check_against: vec![THOUGHT.into()],
            remote_allowed: true,
        })
        .await
        .unwrap();
    assert_eq!(g.target, "local");
    assert_eq!(mock.calls(), 2, "one repair attempt");
    assert!(mock.requests()[1]["messages"][3]["content"]
        .as_str()
        .unwrap()
        .contains("never quote"));
}

// ---- budgets -----------------------------------------------------------------

kalei_store::db_test! {
    async fn user_daily_tokens_hold_under_50_concurrent_calls(t) {
        for (backend, counters) in counter_backends().await {
            let mock = Mock::start(MockConfig { delay: Duration::from_millis(50), ..Default::default() }).await;
            let mut cfg = config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]);
            cfg.budgets.user_daily_tokens = 8_000;
            let gw = gateway_with(&t, cfg, counters.clone(), Arc::new(SystemClock)).await;
            let calls = (0..50).map(|_| {
                let gw = gw.clone();
                async move { gw.turn(&turn_req("heavy-user", THOUGHT)).await }
            });
            let results = futures::future::join_all(calls).await;
            let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            let denied = results.iter().filter(|r| matches!(r, Err(GatewayError::Budget { which: BudgetKind::UserDailyTokens }))).count();
            assert_eq!(ok.len() + denied, 50, "{backend}: {results:?}");
            assert!(denied > 0 && !ok.is_empty(), "{backend}: ok {} denied {denied}", ok.len());
            let spent: u64 = ok.iter().map(|g| g.usage.tokens_in + g.usage.tokens_out).sum();
            assert!(spent <= 8_000, "{backend}: spent {spent}");
            assert_eq!(mock.calls() as usize, ok.len(), "{backend}: no request without a reservation");
            // Another user is unaffected.
            assert_eq!(gw.turn(&turn_req("light-user", THOUGHT)).await.unwrap().target, "r");
            // Reconciling gave back what was reserved but unused; calls go on
            // until the budget is really spent, never past it.
            let mut spent = spent;
            let mut denied_after = None;
            for _ in 0..30 {
                match gw.turn(&turn_req("heavy-user", THOUGHT)).await {
                    Ok(g) => spent += g.usage.tokens_in + g.usage.tokens_out,
                    Err(e) => { denied_after = Some(e); break; }
                }
            }
            assert_eq!(denied_after.unwrap().to_string(), "AI budget exhausted: user_daily_tokens");
            assert!(spent <= 8_000, "{backend}: spent {spent}");
            // Lens (smaller) still fits a few times, then degrades to
            // templates instead of failing.
            let mut degraded = false;
            for i in 0..30 {
                let l = gw.lens(&LensRequest { user_id: "heavy-user".into(), emotions: None, seed: i, remote_allowed: true }).await.unwrap();
                if l.target == "local" {
                    assert!(l.degraded);
                    degraded = true;
                    break;
                }
                spent += l.usage.tokens_in + l.usage.tokens_out;
            }
            assert!(degraded, "{backend}");
            assert!(spent <= 8_000, "{backend}: spent {spent}");
            gw.flush().await;
        }
        let denied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ai_usage_events WHERE outcome = 'budget_denied'")
            .fetch_one(t.db.pool()).await.unwrap();
        assert!(denied > 0);
    }
}

kalei_store::db_test! {
    async fn global_monthly_cap_no_overspend_alerts_and_degradation(t) {
        for (backend, counters) in counter_backends().await {
            // Every call costs 0.002 USD (2e6 nanos); the cap is 0.02 USD.
            let mock = Mock::start(MockConfig { delay: Duration::from_millis(30), cost: Some(0.002), ..Default::default() }).await;
            let mut cfg = config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]);
            cfg.budgets.global_monthly_cap_nanos = 20_000_000;
            cfg.budgets.alert_webhook_url = Some(Secret::new(mock.hook_url()));
            // Reservation price: an upper bound of the real charge.
            cfg.prices.insert("m".into(), Price { input_usd_per_mtok: 2.0, output_usd_per_mtok: 2.0 });
            cfg.budgets.degradation = vec![
                DegradeStep { features: vec![Feature::Lens], at_percent: 50, action: DegradeAction::Local },
                DegradeStep { features: vec![Feature::SpectrumWeekly, Feature::SpectrumMonthly], at_percent: 80, action: DegradeAction::Pause },
            ];
            let gw = gateway_with(&t, cfg, counters.clone(), Arc::new(SystemClock)).await;
            let calls = (0..50).map(|i| {
                let gw = gw.clone();
                async move { gw.turn(&turn_req(&format!("user{i}"), THOUGHT)).await }
            });
            let results = futures::future::join_all(calls).await;
            let ok = results.iter().filter(|r| r.is_ok()).count();
            let denied = results.iter().filter(|r| matches!(r, Err(GatewayError::Budget { which: BudgetKind::GlobalMonthlySpend }))).count();
            assert_eq!(ok + denied, 50, "{backend}");
            assert!((1..=10).contains(&ok), "{backend}: {ok} calls at 2e6 nanos fit under a 2e7 cap");
            assert!(denied >= 40, "{backend}");
            let mut spent: i64 = results.iter().filter_map(|r| r.as_ref().ok()).map(|g| g.cost_nanos.unwrap()).sum();
            assert!(spent <= 20_000_000, "{backend}: spent {spent}");
            // Sequential calls use up what reconciling gave back, then stop.
            for i in 0..20 {
                match gw.turn(&turn_req(&format!("late{i}"), THOUGHT)).await {
                    Ok(g) => spent += g.cost_nanos.unwrap(),
                    Err(GatewayError::Budget { which: BudgetKind::GlobalMonthlySpend }) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert!((16_000_000..=20_000_000).contains(&spent), "{backend}: spent {spent}");
            // Degradation order: Lens → templates, Spectrum → paused, Turn → denied.
            let l = gw.lens(&LensRequest { user_id: "x".into(), emotions: None, seed: 1, remote_allowed: true }).await.unwrap();
            assert_eq!((l.target.as_str(), l.degraded), ("local", true));
            let s = gw.spectrum_weekly(&InsightRequest { user_id: "x".into(), summary: PeriodSummary::default(),
                check_against: vec![], remote_allowed: true }).await;
            match s {
                Err(GatewayError::Paused { feature: Feature::SpectrumWeekly, which: BudgetKind::GlobalMonthlySpend, resume_at_ms }) => {
                    assert!(resume_at_ms > chrono::Utc::now().timestamp_millis());
                }
                other => panic!("{backend}: {other:?}"),
            }
            assert!(matches!(gw.turn(&turn_req("x", THOUGHT)).await,
                Err(GatewayError::Budget { which: BudgetKind::GlobalMonthlySpend })));
            // Alerts: each threshold reached fires once.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let hooks = mock.hooks();
            let pct = spent * 100 / 20_000_000;
            let want: Vec<u8> = [50u8, 80, 95, 100].into_iter().filter(|p| *p as i64 <= pct).collect();
            assert_eq!(hooks.len(), want.len(), "{backend}: spent {pct}%: {hooks:?}");
            for p in &want {
                assert_eq!(hooks.iter().filter(|h| h["text"].as_str().unwrap().contains(&format!("reached {p}%"))).count(), 1);
            }
            gw.flush().await;
        }
    }
}

#[tokio::test]
async fn lens_degrades_and_spectrum_pauses_under_spend_pressure() {
    let t = sqlite().await;
    let mock = Mock::start(MockConfig {
        cost: Some(0.0085),
        ..Default::default()
    })
    .await;
    let mut cfg = config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]);
    cfg.budgets.global_monthly_cap_nanos = 10_000_000; // 0.01 USD
    cfg.budgets.fallback_price = Price {
        input_usd_per_mtok: 0.01,
        output_usd_per_mtok: 0.01,
    };
    let gw = gateway(&t, cfg).await;
    // One Turn spends 85% of the cap.
    assert_eq!(gw.turn(&turn_req("u", THOUGHT)).await.unwrap().target, "r");
    let n = mock.calls();
    let l = gw
        .lens(&LensRequest {
            user_id: "u".into(),
            emotions: None,
            seed: 1,
            remote_allowed: true,
        })
        .await
        .unwrap();
    assert_eq!(
        (l.target.as_str(), l.degraded),
        ("local", true),
        "Lens degrades at 80%"
    );
    // Spectrum pauses at 95%, so at 85% it still runs.
    let req = InsightRequest {
        user_id: "u".into(),
        summary: PeriodSummary::default(),
        check_against: vec![],
        remote_allowed: true,
    };
    assert_eq!(gw.spectrum_weekly(&req).await.unwrap().target, "r");
    assert!(matches!(
        gw.spectrum_monthly(&req).await,
        Err(GatewayError::Paused { .. })
    ));
    // Turn stays on the best route until the cap denies it.
    assert_eq!(mock.calls(), n + 1);
}

// ---- streaming ---------------------------------------------------------------

async fn collect(gw: &Gateway, req: TurnRequest) -> (String, Vec<Result<TurnEvent, GatewayError>>) {
    let mut s = gw.turn_stream(req);
    let mut text = String::new();
    let mut events = Vec::new();
    while let Some(ev) = s.next().await {
        if let Ok(TurnEvent::Delta(d)) = &ev {
            text.push_str(d);
        }
        events.push(ev);
    }
    (text, events)
}

kalei_store::db_test! {
    async fn stream_deltas_then_validated_result(t) {
        let mock = Mock::start(MockConfig { cost: Some(0.0001), ..Default::default() }).await;
        let gw = gateway(&t, config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"])).await;
        let (text, events) = collect(&gw, turn_req("u", THOUGHT)).await;
        assert_eq!(text, valid_content("turn"));
        assert!(events.len() >= 3);
        match events.last().unwrap() {
            Ok(TurnEvent::Done(g)) => {
                is_turn_valid(&g.output);
                assert_eq!(g.target, "r");
                assert_eq!(g.cost_nanos, Some(100_000));
                assert!(g.usage.tokens_out > 0);
            }
            other => panic!("{other:?}"),
        }
        let req = &mock.requests()[0];
        assert_eq!(req["stream"], true);
        assert_eq!(req["stream_options"]["include_usage"], true);
        gw.flush().await;
        let rows = usage_rows(&t).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<i64, _>("streamed"), 1);
        assert_eq!(rows[0].get::<Option<i64>, _>("cost_nanos"), Some(100_000));
    }
}

#[tokio::test]
async fn stream_falls_back_only_before_the_first_content_byte() {
    let t = sqlite().await;
    let a = Mock::start(MockConfig::default()).await;
    let b = Mock::start(MockConfig::default()).await;
    let mut cfg = config(
        &[
            ("a", remote(&a.base_url, "ma")),
            ("b", remote(&b.base_url, "mb")),
        ],
        &["a", "b", "local"],
    );
    cfg.resilience.max_retries = 0;
    let gw = gateway(&t, cfg).await;

    // TTFT timeout on a → b answers.
    a.script([Reply::StallBeforeContent]);
    let started = Instant::now();
    let (text, events) = collect(&gw, turn_req("u", THOUGHT)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(text, valid_content("turn"), "no partial text from a");
    assert!(matches!(events.last(), Some(Ok(TurnEvent::Done(g))) if g.target == "b" && g.degraded));

    // 500 before content on both → local, no deltas.
    a.script([Reply::Status(500)]);
    b.script([Reply::Status(503)]);
    let (text, events) = collect(&gw, turn_req("u", THOUGHT)).await;
    assert!(text.is_empty());
    assert!(matches!(events.last(), Some(Ok(TurnEvent::Done(g))) if g.target == "local"));

    // A stall mid-stream is an error: no fallback after content was sent.
    let b_calls = b.calls();
    a.script([Reply::StallAfter(2)]);
    let (text, events) = collect(&gw, turn_req("u", THOUGHT)).await;
    assert!(!text.is_empty());
    assert!(
        matches!(events.last(), Some(Err(GatewayError::Stream(e))) if e.contains("stalled")),
        "{events:?}"
    );
    assert_eq!(b.calls(), b_calls);

    // A stream that ends without a finish reason is an error.
    a.script([Reply::NoFinishReason]);
    let (_, events) = collect(&gw, turn_req("u", THOUGHT)).await;
    assert!(
        matches!(events.last(), Some(Err(GatewayError::Stream(e))) if e.contains("finish reason")),
        "{events:?}"
    );
    assert_eq!(b.calls(), b_calls);
}

#[tokio::test]
async fn stream_stops_on_unsafe_content() {
    let t = sqlite().await;
    let mut bad: Value = serde_json::from_str(&valid_content("turn")).unwrap();
    bad["micro_action"]["text"] = json!("Take 20 mg of something to calm down tonight.");
    let mock = Mock::start(MockConfig {
        content: Some(bad.to_string()),
        ..Default::default()
    })
    .await;
    let gw = gateway(
        &t,
        config(&[("r", remote(&mock.base_url, "m"))], &["r", "local"]),
    )
    .await;
    let (text, events) = collect(&gw, turn_req("u", THOUGHT)).await;
    assert!(!text.contains("20 mg"), "the unsafe delta is never sent");
    assert!(
        matches!(events.last(), Some(Err(GatewayError::Stream(e))) if e.contains("medical_advice")),
        "{events:?}"
    );
}

// ---- configuration -------------------------------------------------------------

#[test]
fn config_from_toml_with_redacted_key() {
    let toml_src = r#"
        [targets.deepseek]
        type = "openai_compatible"
        base_url = "https://openrouter.ai/api/v1"
        api_key = "sk-or-very-secret"
        model = "deepseek/deepseek-v3.2"
        provider = { only = ["deepinfra", "fireworks"], allow_fallbacks = false, require_parameters = true, data_collection = "deny" }
        models = ["anthropic/claude-haiku-4.5"]

        [targets.haiku]
        type = "openai_compatible"
        base_url = "https://openrouter.ai/api/v1"
        api_key = "sk-or-very-secret"
        model = "anthropic/claude-haiku-4.5"

        [routes.turn]
        targets = ["deepseek", "haiku", "local"]
        deadline_ms = 12000
        max_tokens = 700
        temperature = 0.7

        [budgets]
        user_daily_tokens = 40000
        global_monthly_cap_nanos = 30_000_000_000
        alert_webhook_url = "https://hooks.slack.com/services/T000/B000/XXXX"

        [prices."deepseek/deepseek-v3.2"]
        input_usd_per_mtok = 0.26
        output_usd_per_mtok = 0.38
    "#;
    let c: GatewayConfig = toml::from_str(toml_src).unwrap();
    c.validate().unwrap();
    assert_eq!(c.routes.turn.targets, ["deepseek", "haiku", "local"]);
    assert_eq!(c.routes.lens.targets, ["local"], "unset routes stay local");
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains("sk-or-very-secret") && !dbg.contains("XXXX"),
        "{dbg}"
    );
    let ser = serde_json::to_string(&c).unwrap();
    assert!(!ser.contains("sk-or-very-secret") && ser.contains("[redacted]"));

    // Unknown fields and dangling references are refused.
    assert!(toml::from_str::<GatewayConfig>("[budgets]\nuser_daily_token = 1").is_err());
    let mut bad = c.clone();
    bad.routes.lens.targets = vec!["nope".into()];
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("unknown target `nope`"));

    let d = GatewayConfig::default();
    d.validate().unwrap();
    assert!(d.targets.is_empty());
    let s = GatewayConfig::simple("http://127.0.0.1:11434/v1", Some("k"), "llama3.1");
    s.validate().unwrap();
    for f in Feature::ALL {
        assert_eq!(s.routes.get(f).targets, ["remote", "local"]);
    }
}
