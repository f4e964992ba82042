//! A small open-loop load generator for the benchmarks: sends requests at a
//! fixed rate (not "as fast as responses come back"), and measures latency
//! from each request's scheduled start, so a slow server cannot hide its
//! queueing delay (no coordinated omission).
//!
//! cargo run --release -p kalei-server --example loadgen -- \
//!   --url http://127.0.0.1:8080/v1/turns --rate 500 --seconds 20 \
//!   --token "$ACCESS" --body '{"thought":"I always mess up"}'
//!
//! `--body-file` takes one JSON body per line, used round-robin; `{{n}}` in a
//! body is replaced by the request number. Prints one JSON summary line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

struct Args {
    url: String,
    rate: f64,
    seconds: f64,
    token: Option<String>,
    bodies: Vec<String>,
    method: reqwest::Method,
    max_in_flight: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        url: String::new(),
        rate: 100.0,
        seconds: 10.0,
        token: None,
        bodies: Vec::new(),
        method: reqwest::Method::POST,
        max_in_flight: 4096,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value()?,
            "--rate" => a.rate = value()?.parse().map_err(|_| "--rate must be a number")?,
            "--seconds" => {
                a.seconds = value()?.parse().map_err(|_| "--seconds must be a number")?
            }
            "--token" => a.token = Some(value()?),
            "--body" => a.bodies.push(value()?),
            "--body-file" => {
                let text = std::fs::read_to_string(value()?).map_err(|e| e.to_string())?;
                a.bodies.extend(
                    text.lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(str::to_string),
                );
            }
            "--method" => a.method = value()?.parse().map_err(|_| "bad --method")?,
            "--max-in-flight" => {
                a.max_in_flight = value()?.parse().map_err(|_| "bad --max-in-flight")?
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.url.is_empty() || a.rate <= 0.0 || a.seconds <= 0.0 {
        return Err("usage: loadgen --url URL --rate N --seconds S [--token T] [--body JSON | --body-file F]".into());
    }
    Ok(a)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.max_in_flight)
        .build()
        .expect("client");
    let total = (args.rate * args.seconds).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let latencies = Arc::new(Mutex::new(Vec::<u64>::with_capacity(total as usize)));
    let statuses = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, u64>::new()));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(args.max_in_flight));
    let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for n in 0..total {
        let scheduled = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            continue;
        };
        let mut req = client.request(args.method.clone(), &args.url);
        if let Some(t) = &args.token {
            req = req.bearer_auth(t);
        }
        if !args.bodies.is_empty() {
            let body =
                args.bodies[(n as usize) % args.bodies.len()].replace("{{n}}", &n.to_string());
            req = req.header("content-type", "application/json").body(body);
        }
        let (latencies, statuses) = (latencies.clone(), statuses.clone());
        tasks.push(tokio::spawn(async move {
            let status = match req.send().await {
                Ok(res) => {
                    let s = res.status().as_u16();
                    let _ = res.bytes().await;
                    s
                }
                Err(_) => 0,
            };
            let micros = scheduled.elapsed().as_micros() as u64;
            drop(permit);
            latencies.lock().await.push(micros);
            *statuses.lock().await.entry(status).or_insert(0) += 1;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut l = latencies.lock().await.clone();
    l.sort_unstable();
    let statuses = statuses.lock().await.clone();
    let ok = statuses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum::<u64>();
    println!(
        "{}",
        serde_json::json!({
            "url": args.url, "target_rate": args.rate, "sent": l.len(), "dropped": dropped.load(std::sync::atomic::Ordering::Relaxed),
            "ok": ok, "statuses": statuses, "achieved_rate": (l.len() as f64 / elapsed * 10.0).round() / 10.0,
            "p50_ms": percentile(&l, 50.0), "p90_ms": percentile(&l, 90.0), "p99_ms": percentile(&l, 99.0),
            "max_ms": l.last().map(|m| *m as f64 / 1000.0),
        })
    );
}
