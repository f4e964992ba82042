//! The Spectrum weekly pipeline benchmark (driven by `bench/spectrum/run.sh`).
//!
//! 1. `seed`: N users × 8 weeks with the analysis already stored: sealed
//!    Mirror messages and Turn thoughts (the insight check decrypts them),
//!    session vectors and turn impacts, inserted in bulk.
//! 2. `pipeline`: the weekly run for the last of those weeks, through the real
//!    fan-out, job queue and worker (`local` provider), timed from the
//!    fan-out until every weekly job is completed.
//! 3. `reader`: one user with all 8 weeks aggregated and a `prism` plan, and
//!    an access token for it, for the `GET /v1/spectrum/weekly` load test.
//!
//! Configuration comes from the usual `KALEI_*` variables (the database and
//! `KALEI_DATA_DIR`, whose signing key the server shares). Prints one JSON
//! line per step.
//!
//!   cargo run --release -p kalei-server --example spectrum_bench -- seed --users 10000
//!   cargo run --release -p kalei-server --example spectrum_bench -- pipeline --queues spectrum:8
//!   cargo run --release -p kalei-server --example spectrum_bench -- reader

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use kalei_analysis::Emotions;
use kalei_server::app::AppState;
use kalei_server::config::Config;
use kalei_server::spectrum::aggregate::{week_start, ymd};
use kalei_server::spectrum::{local_date, periodic};
use kalei_store::jobs::Worker;
use kalei_store::SystemClock;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// Users are spread over zones where the fan-out instant (Monday 12:00 UTC)
/// is a Monday.
const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "America/Sao_Paulo",
];
const WEEKS: i64 = 8;
const EMAIL_DOMAIN: &str = "spectrum-bench.invalid";

const SENTENCES: &[&str] = &[
    "The meeting ran long and I felt behind all afternoon.",
    "I always mess things up when people are watching.",
    "Walked home through the park and the light was lovely.",
    "My sister called and we laughed about the old flat.",
    "I should have finished the report days ago.",
    "Slept badly, everything felt slow and heavy.",
    "Cooked a proper dinner and felt calmer afterwards.",
    "They probably think I'm not good enough for this team.",
];
const PATTERNS: &[&str] = &[
    "overgeneralization",
    "mind_reading",
    "should_statements",
    "labeling",
    "catastrophizing",
];

enum Val {
    Text(String),
    Int(i64),
    Real(f64),
    Blob(Vec<u8>),
}

/// Multi-row inserts in one transaction; statements stay small on SQLite,
/// where sqlx binds parameters in quadratic time.
async fn insert(
    state: &AppState,
    table: &str,
    cols: &[&str],
    rows: Vec<Vec<Val>>,
) -> anyhow::Result<()> {
    let per_statement = match state.db.dialect() {
        kalei_store::Dialect::Sqlite => 100,
        kalei_store::Dialect::Postgres => 500,
    };
    let mut tx = state.db.begin().await?;
    for chunk in rows.chunks(per_statement) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..cols.len() {
                n += 1;
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for row in chunk {
            for v in row {
                q = match v {
                    Val::Text(s) => q.bind(s.clone()),
                    Val::Int(x) => q.bind(*x),
                    Val::Real(x) => q.bind(*x),
                    Val::Blob(b) => q.bind(b.clone()),
                };
            }
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Monday 12:00 UTC of the current week: the fan-out instant. The seeded
/// weeks are the eight before it.
fn fan_out_instant() -> (NaiveDate, i64) {
    let monday = week_start(Utc::now().date_naive());
    let at = Utc
        .from_utc_datetime(&monday.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap()))
        .timestamp_millis();
    (monday, at)
}

fn t(s: impl Into<String>) -> Val {
    Val::Text(s.into())
}

async fn seed(state: &AppState, users: usize) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let (monday, _) = fan_out_instant();
    let first = monday - chrono::Duration::days(WEEKS * 7);
    let now = Utc::now().timestamp_millis();
    let mut rng = StdRng::seed_from_u64(2026);
    let mut counts = [0usize; 4];
    // Users in batches so memory stays flat.
    for batch_start in (0..users).step_by(500) {
        let batch_end = (batch_start + 500).min(users);
        let (mut u, mut p, mut s, mut m, mut v, mut tr, mut ti) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for i in batch_start..batch_end {
            let id = kalei_store::new_id();
            let zone = ZONES[i % ZONES.len()];
            let tz: Tz = zone.parse().expect("zone");
            u.push(vec![
                t(&id),
                t(format!("bench-{i}@{EMAIL_DOMAIN}")),
                t("user"),
                Val::Int(now),
                Val::Int(now),
            ]);
            p.push(vec![t(&id), t(zone), Val::Int(now)]);
            let content_aad = kalei_server::mirror::content_aad(&id);
            let thought_aad = kalei_server::turn::thought_aad(&id);
            for week in 0..WEEKS {
                let week_monday = first + chrono::Duration::days(week * 7);
                for _ in 0..rng.gen_range(2..=5) {
                    let day = week_monday + chrono::Duration::days(rng.gen_range(0..7));
                    let local = day.and_time(
                        NaiveTime::from_hms_opt(rng.gen_range(7..22), rng.gen_range(0..60), 0)
                            .unwrap(),
                    );
                    let at = kalei_store::jobs::tz::local_to_utc_ms(tz, local);
                    let sid = kalei_store::new_id();
                    s.push(vec![
                        t(&sid),
                        t(&id),
                        t("closed"),
                        Val::Int(at),
                        Val::Int(at + 600_000),
                        Val::Int(2),
                    ]);
                    let mut words = 0;
                    for k in 0..2 {
                        let text = SENTENCES[rng.gen_range(0..SENTENCES.len())];
                        let w = text.split_whitespace().count() as i64;
                        words += w;
                        m.push(vec![
                            t(kalei_store::new_id()),
                            t(&id),
                            t(&sid),
                            Val::Blob(state.cipher.seal_str(text, &content_aad)),
                            Val::Int(text.chars().count() as i64),
                            Val::Int(w),
                            Val::Real(0.0),
                            t("{}"),
                            t("none"),
                            Val::Int(at + k * 60_000),
                        ]);
                    }
                    let valence: f32 = rng.gen_range(-0.6..0.6);
                    let e = Emotions {
                        valence,
                        arousal: rng.gen_range(0.1..0.7),
                        joy: valence.max(0.0),
                        sadness: (-valence).max(0.0),
                        fear: rng.gen_range(0.0..0.3),
                        trust: rng.gen_range(0.0..0.3),
                        ..Emotions::default()
                    };
                    let pattern = PATTERNS[rng.gen_range(0..PATTERNS.len())];
                    v.push(vec![
                        t(&sid),
                        t(&id),
                        t(local_date(at, tz)),
                        Val::Real(e.valence as f64),
                        Val::Real(e.arousal as f64),
                        t(serde_json::to_string(&e)?),
                        t(json!({pattern: rng.gen_range(1..3)}).to_string()),
                        Val::Int(2),
                        Val::Int(words),
                        Val::Int(now),
                    ]);
                }
                for _ in 0..rng.gen_range(1..=2) {
                    let day = week_monday + chrono::Duration::days(rng.gen_range(0..7));
                    let at = kalei_store::jobs::tz::local_to_utc_ms(
                        tz,
                        day.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap()),
                    );
                    let tid = kalei_store::new_id();
                    let thought = SENTENCES[rng.gen_range(0..SENTENCES.len())];
                    let before = rng.gen_range(50..95);
                    let after = before - rng.gen_range(5..45);
                    tr.push(vec![
                        t(&tid),
                        t(&id),
                        Val::Blob(state.cipher.seal_str(thought, &thought_aad)),
                        t("[]"),
                        Val::Real(-0.4),
                        t("{}"),
                        t("none"),
                        Val::Int(before),
                        Val::Int(after),
                        Val::Int(at),
                    ]);
                    ti.push(vec![
                        t(&tid),
                        t(&id),
                        t(local_date(at, tz)),
                        t(json!([PATTERNS[rng.gen_range(0..PATTERNS.len())]]).to_string()),
                        Val::Int(before),
                        Val::Int(after),
                        Val::Real(-0.4),
                        Val::Real(rng.gen_range(-0.2..0.6)),
                        Val::Int(1),
                        Val::Int(now),
                    ]);
                }
            }
        }
        counts[0] += s.len();
        counts[1] += m.len();
        counts[2] += tr.len();
        counts[3] += u.len();
        insert(
            state,
            "users",
            &["id", "email", "role", "created_at", "updated_at"],
            u,
        )
        .await?;
        insert(state, "profiles", &["user_id", "timezone", "updated_at"], p).await?;
        insert(
            state,
            "mirror_sessions",
            &[
                "id",
                "user_id",
                "status",
                "started_at",
                "closed_at",
                "message_count",
            ],
            s,
        )
        .await?;
        insert(
            state,
            "mirror_messages",
            &[
                "id",
                "user_id",
                "session_id",
                "content_sealed",
                "char_count",
                "word_count",
                "polarity",
                "emotions",
                "crisis_level",
                "created_at",
            ],
            m,
        )
        .await?;
        insert(
            state,
            "spectrum_session_vectors",
            &[
                "session_id",
                "user_id",
                "local_date",
                "valence",
                "arousal",
                "emotions",
                "distortion_counts",
                "message_count",
                "word_count",
                "analysed_at",
            ],
            v,
        )
        .await?;
        insert(
            state,
            "turns",
            &[
                "id",
                "user_id",
                "thought_sealed",
                "distortions",
                "polarity",
                "emotions",
                "crisis_level",
                "belief_before",
                "belief_after",
                "created_at",
            ],
            tr,
        )
        .await?;
        insert(
            state,
            "spectrum_turn_impacts",
            &[
                "turn_id",
                "user_id",
                "local_date",
                "distortions",
                "belief_before",
                "belief_after",
                "polarity_before",
                "polarity_after",
                "saved",
                "analysed_at",
            ],
            ti,
        )
        .await?;
    }
    Ok(
        json!({"step": "seed", "users": counts[3], "sessions": counts[0], "messages": counts[1], "turns": counts[2],
              "first_week": ymd(first), "seconds": started.elapsed().as_secs_f64()}),
    )
}

async fn pipeline(state: &AppState, queues: &str) -> anyhow::Result<serde_json::Value> {
    let (monday, at) = fan_out_instant();
    let week = ymd(monday - chrono::Duration::days(7));
    // A rerun measures the same work again.
    sqlx::query("DELETE FROM spectrum_weekly WHERE week_start = $1")
        .bind(&week)
        .execute(state.db.pool())
        .await?;
    sqlx::query("DELETE FROM jobs WHERE kind = 'spectrum.weekly'")
        .execute(state.db.pool())
        .await?;
    let started = Instant::now();
    let enqueued = periodic::fan_out(state, at).await?;
    let enqueue_seconds = started.elapsed().as_secs_f64();
    let worker = Worker::new(
        state.jobs.clone(),
        kalei_server::jobs::registry(state),
        kalei_server::jobs::worker_config(state, Some(queues))?,
    )
    .start();
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'spectrum.weekly' AND state NOT IN ('completed', 'cancelled', 'discarded')",
        )
        .fetch_one(state.db.pool())
        .await?;
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    worker.shutdown().await;
    let (rows, failed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM spectrum_weekly WHERE week_start = $1), \
                (SELECT COUNT(*) FROM jobs WHERE kind = 'spectrum.weekly' AND state <> 'completed')",
    )
    .bind(&week)
    .fetch_one(state.db.pool())
    .await?;
    Ok(
        json!({"step": "pipeline", "week_start": week, "jobs": enqueued, "weekly_rows": rows, "not_completed": failed,
              "queues": queues, "enqueue_seconds": enqueue_seconds, "seconds": seconds,
              "jobs_per_second": enqueued as f64 / seconds}),
    )
}

async fn reader(state: &AppState) -> anyhow::Result<serde_json::Value> {
    let user_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(format!("bench-0@{EMAIL_DOMAIN}"))
        .fetch_one(state.db.pool())
        .await?;
    sqlx::query("DELETE FROM subscriptions WHERE user_id = $1")
        .bind(&user_id)
        .execute(state.db.pool())
        .await?;
    sqlx::query("INSERT INTO subscriptions (user_id, plan, store, status, updated_at) VALUES ($1, 'prism', 'bench', 'active', 0)")
        .bind(&user_id)
        .execute(state.db.pool())
        .await?;
    let (monday, _) = fan_out_instant();
    for week in 1..=WEEKS {
        periodic::run_weekly(state, &user_id, monday - chrono::Duration::days(week * 7)).await?;
    }
    let token = state.tokens.issue(
        &user_id,
        "spectrum-bench",
        "user",
        Utc::now().timestamp_millis(),
    );
    Ok(
        json!({"step": "reader", "user_id": user_id, "weeks": WEEKS, "token": token, "weekday": monday.weekday().to_string()}),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let config = Config::load(None).map_err(|e| anyhow::anyhow!(e))?;
    let state = AppState::open(config, Arc::new(SystemClock)).await?;
    let out = match args.first().map(String::as_str) {
        Some("seed") => seed(&state, flag("--users").map_or(Ok(10_000), |u| u.parse())?).await?,
        Some("pipeline") => {
            pipeline(
                &state,
                &flag("--queues").unwrap_or_else(|| "spectrum".into()),
            )
            .await?
        }
        Some("reader") => reader(&state).await?,
        _ => anyhow::bail!(
            "usage: spectrum_bench seed [--users N] | pipeline [--queues SPEC] | reader"
        ),
    };
    println!("{out}");
    state.db.close().await;
    Ok(())
}
