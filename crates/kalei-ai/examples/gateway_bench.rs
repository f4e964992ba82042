//! Gateway overhead benchmark (BENCHMARKS.md, "AI gateway"). Driven by
//! `bench/ai/run.sh`, which starts two mock providers (0 ms and 50 ms) and,
//! optionally, a LiteLLM proxy in front of them.
//!
//! For each provider latency and request rate it runs, open loop for `--secs`:
//! * `direct`: plain HTTP to the mock (the baseline: client + network + mock);
//! * `gateway`: `Gateway::turn` in process; overhead = the gateway's own
//!   measure (total minus time waiting on the provider), and e2e latency;
//! * `gateway+budgets`: the same with both budgets on (memory counters);
//! * `litellm`: HTTP to the LiteLLM proxy; overhead = its
//!   `x-litellm-overhead-duration-ms` header when sent, and e2e latency.
//!
//! ```text
//! cargo run --release -p kalei-ai --example gateway_bench -- \
//!   --mock0 http://127.0.0.1:18080/v1 --mock50 http://127.0.0.1:18081/v1 \
//!   [--litellm http://127.0.0.1:4000] --rates 1000,5000 --secs 10
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kalei_ai::*;
use kalei_store::counters::MemoryCounters;
use kalei_store::{Db, DbOptions, SystemClock};

#[derive(Default, Clone)]
struct Samples {
    e2e_us: Vec<u64>,
    overhead_us: Vec<u64>,
    errors: u64,
    non_remote: u64,
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i] as f64 / 1000.0
}

fn arg(name: &str) -> Option<String> {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1).cloned())
}

fn bench_key() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| arg("--litellm-key").unwrap_or_else(|| "sk-bench".into()))
}

const THOUGHT: &str = "I always mess everything up at work and everyone thinks I'm useless.";

/// A chat request like the gateway's Turn request (system + user prompt of
/// similar size, the same response_format).
fn body(model: &str) -> Vec<u8> {
    let system = "You write for Kalei, a reflective-writing app. ".repeat(24);
    serde_json::to_vec(&serde_json::json!({
        "model": model,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": format!("Thought: \"{THOUGHT}\"")}],
        "max_tokens": 700, "temperature": 0.7, "stream": false,
        "response_format": {"type": "json_schema", "json_schema": {"name": "turn", "strict": true,
            "schema": kalei_ai::schema::schema(Feature::Turn)}},
    }))
    .unwrap()
}

enum Mode {
    Direct { url: String, model: String },
    Gateway(Gateway),
    Litellm { url: String, model: String },
}

async fn run(mode: Arc<Mode>, rate: u64, secs: u64, client: reqwest::Client) -> (Samples, f64) {
    let samples = Arc::new(Mutex::new(Samples::default()));
    let inflight = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let analysis = Arc::new(kalei_analysis::analyze(THOUGHT));
    let bodies = Arc::new(match &*mode {
        Mode::Direct { model, .. } | Mode::Litellm { model, .. } => body(model),
        Mode::Gateway(_) => Vec::new(),
    });
    let total = rate * secs;
    let start = Instant::now();
    let mut handles = Vec::with_capacity(total as usize);
    let mut skipped = 0u64;
    for i in 0..total {
        // Open loop: request i is due at i / rate seconds.
        let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        if inflight.load(std::sync::atomic::Ordering::Relaxed) > 4000 {
            skipped += 1;
            continue;
        }
        inflight.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (mode, samples, inflight, client, bodies, analysis) = (
            mode.clone(),
            samples.clone(),
            inflight.clone(),
            client.clone(),
            bodies.clone(),
            analysis.clone(),
        );
        handles.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let (ok, overhead, remote) = match &*mode {
                Mode::Gateway(gw) => {
                    let req = TurnRequest {
                        user_id: format!("bench-user-{}", i % 1000),
                        thought: THOUGHT.to_string(),
                        analysis: (*analysis).clone(),
                        remote_allowed: true,
                    };
                    match gw.turn(&req).await {
                        Ok(g) => (true, Some(g.overhead), g.target != "local"),
                        Err(_) => (false, None, false),
                    }
                }
                Mode::Direct { url, .. } | Mode::Litellm { url, .. } => {
                    let r = client
                        .post(format!("{url}/chat/completions"))
                        .header("content-type", "application/json")
                        .header("authorization", format!("Bearer {}", bench_key()))
                        .body((*bodies).clone())
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().is_success() => {
                            let h = r
                                .headers()
                                .get("x-litellm-overhead-duration-ms")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.parse::<f64>().ok())
                                .map(|ms| Duration::from_secs_f64(ms / 1000.0));
                            let ok = r.bytes().await.is_ok();
                            (ok, h, true)
                        }
                        _ => (false, None, false),
                    }
                }
            };
            let e2e = t0.elapsed();
            let mut s = samples.lock().unwrap();
            if ok {
                s.e2e_us.push(e2e.as_micros() as u64);
                if let Some(o) = overhead {
                    s.overhead_us.push(o.as_micros() as u64);
                }
                if !remote {
                    s.non_remote += 1;
                }
            } else {
                s.errors += 1;
            }
            drop(s);
            inflight.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut s = samples.lock().unwrap().clone();
    s.errors += skipped;
    let achieved = s.e2e_us.len() as f64 / elapsed;
    (s, achieved)
}

fn fmt(x: f64) -> String {
    if x.is_nan() {
        "–".to_string()
    } else {
        format!("{x:.3}")
    }
}

async fn point(
    lat: u64,
    rate: u64,
    name: &str,
    mode: Arc<Mode>,
    secs: u64,
    client: &reqwest::Client,
    direct_p: &mut (f64, f64),
) {
    // Warm-up (connections, caches), not measured.
    let _ = run(mode.clone(), rate.min(200), 1, client.clone()).await;
    let (mut s, achieved) = run(mode, rate, secs, client.clone()).await;
    let (e50, e99) = (pct(&mut s.e2e_us, 0.5), pct(&mut s.e2e_us, 0.99));
    let (o50, o99) = (pct(&mut s.overhead_us, 0.5), pct(&mut s.overhead_us, 0.99));
    let delta = if name == "direct" {
        *direct_p = (e50, e99);
        "–".to_string()
    } else {
        format!("{} / {}", fmt(e50 - direct_p.0), fmt(e99 - direct_p.1))
    };
    println!(
        "| {lat} ms | {rate} | {name} | {achieved:.0} | {} | {} / {} | {} / {} | {delta} | {} |",
        s.errors,
        fmt(e50),
        fmt(e99),
        fmt(o50),
        fmt(o99),
        s.non_remote
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// Waits (up to 120 s) until three requests in a row answer within 200 ms.
async fn drained(mode: &Arc<Mode>, client: &reqwest::Client) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut good = 0;
    while Instant::now() < deadline {
        let (s, _) = run(mode.clone(), 1, 1, client.clone()).await;
        if s.errors == 0 && s.e2e_us.first().is_some_and(|us| *us < 200_000) {
            good += 1;
            if good == 3 {
                return true;
            }
        } else {
            good = 0;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    false
}

async fn gateway(url: &str, budgets: bool, dir: &std::path::Path) -> Gateway {
    let db = Db::connect(
        &format!("sqlite://{}/bench-{budgets}.db", dir.display()),
        &DbOptions::default(),
    )
    .await
    .unwrap();
    db.migrate().await.unwrap();
    let mut cfg = GatewayConfig::simple(url, Some("sk-bench"), "mock-model");
    cfg.resilience.max_retries = 0;
    cfg.resilience.attempt_timeout_ms = 30_000;
    cfg.routes.turn.deadline_ms = 60_000;
    cfg.breaker.failure_threshold = 1_000_000;
    cfg.usage_queue = 100_000;
    if budgets {
        cfg.budgets.user_daily_tokens = i64::MAX / 4;
        cfg.budgets.global_monthly_cap_nanos = i64::MAX / 4;
        cfg.prices.insert(
            "mock-model".into(),
            Price {
                input_usd_per_mtok: 0.26,
                output_usd_per_mtok: 0.38,
            },
        );
    }
    Gateway::new(
        cfg,
        db,
        Arc::new(MemoryCounters::new()),
        Arc::new(SystemClock),
    )
    .await
    .unwrap()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async_main());
}

async fn async_main() {
    let _ = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder();
    let mock0 = arg("--mock0").unwrap_or_else(|| "http://127.0.0.1:18080/v1".into());
    let mock50 = arg("--mock50").unwrap_or_else(|| "http://127.0.0.1:18081/v1".into());
    let litellm = arg("--litellm");
    let secs: u64 = arg("--secs").and_then(|s| s.parse().ok()).unwrap_or(10);
    let rates: Vec<u64> = arg("--rates")
        .unwrap_or_else(|| "1000,5000".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let dir = std::env::temp_dir().join(format!("kalei-ai-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .tcp_nodelay(true)
        .build()
        .unwrap();

    println!("| provider latency | rate (req/s) | system | achieved req/s | errors | e2e p50 / p99 (ms) | overhead p50 / p99 (ms) | e2e minus direct p50 / p99 (ms) | served locally |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let direct = |url: &str| {
        Arc::new(Mode::Direct {
            url: url.to_string(),
            model: "mock-model".into(),
        })
    };
    // Phase 1: kalei-ai (and the direct baseline) at every point.
    for (lat, url) in [(0, &mock0), (50, &mock50)] {
        let gw = gateway(url, false, &dir).await;
        let gwb = gateway(url, true, &dir).await;
        for &rate in &rates {
            let mut d = (f64::NAN, f64::NAN);
            for (name, mode) in [
                ("direct", direct(url)),
                ("kalei-ai gateway", Arc::new(Mode::Gateway(gw.clone()))),
                (
                    "kalei-ai gateway + budgets",
                    Arc::new(Mode::Gateway(gwb.clone())),
                ),
            ] {
                point(lat, rate, name, mode, secs, &client, &mut d).await;
            }
        }
        gw.flush().await;
        gwb.flush().await;
    }
    // Phase 2: LiteLLM last, so its backlog after overload cannot disturb
    // the other measurements; before each point it must answer promptly again.
    if let Some(l) = &litellm {
        let l = l.trim_end_matches('/').to_string();
        for (lat, url, model) in [(0, &mock0, "mock-0ms"), (50, &mock50, "mock-50ms")] {
            for &rate in &rates {
                let mode = Arc::new(Mode::Litellm {
                    url: l.clone(),
                    model: model.into(),
                });
                if !drained(&mode, &client).await {
                    println!("| {lat} ms | {rate} | LiteLLM proxy | still backlogged after 120 s: not measured | | | | | |");
                    continue;
                }
                let mut d = (f64::NAN, f64::NAN);
                point(lat, rate, "direct", direct(url), secs, &client, &mut d).await;
                point(lat, rate, "LiteLLM proxy", mode, secs, &client, &mut d).await;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
