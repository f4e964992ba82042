//! `kalei demo`: a demo user with eight weeks of believable history, and the
//! Spectrum it produces.
//!
//! The entries go through the real HTTP router in process (so text is
//! validated, encrypted and analysed, and the analysis jobs are enqueued as
//! in production), with the state's clock set to each entry's past moment.
//! Access tokens are checked against the wall clock, so the user signs in at
//! the real time first. Then the real job worker runs the analysis jobs and
//! the weekly and monthly Spectrum jobs for those weeks to completion, and
//! the feed is read back through the API.
//!
//! Demo only: the user is put on `prism_plus` with a subscription row of
//! store `demo` (no store transaction behind it), so the monthly deep dive
//! exists. Every run creates a new user with a fresh random password.

pub mod client;
pub mod writer;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use kalei_store::jobs::{tz::local_to_utc_ms, NewJob, Worker};
use kalei_store::{Clock, SystemClock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{json, Value};

use crate::app::{self, AppState};
use crate::config::Config;
use crate::spectrum::aggregate::{month_bounds, week_start, ymd};
use crate::spectrum::periodic::{MonthlyPayload, MonthlySpectrum, WeeklyPayload, WeeklySpectrum};
use client::InProcess;

pub struct DemoOptions {
    /// IANA zone of the demo user; the weeks are their local weeks.
    pub timezone: String,
    /// Seeds the synthetic writer (random when absent).
    pub seed: Option<u64>,
}

/// What `kalei demo` prints.
#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub email: String,
    pub password: String,
    pub timezone: String,
    pub server_url: String,
    pub docs_url: String,
    pub sessions: usize,
    pub turns: usize,
    pub goals: usize,
    /// `GET /v1/spectrum/weekly?limit=8` as the demo user.
    pub weekly: Value,
    /// `GET /v1/spectrum/monthly` (the last complete month) as the demo user.
    pub monthly: Value,
}

/// Pinned to each entry's past moment while the history is written, the
/// wall clock otherwise (so the jobs' leases, retries and backoff run in real
/// time afterwards).
#[derive(Debug, Default)]
struct DemoClock {
    /// Unix ms; 0 = follow the wall clock.
    pinned: AtomicI64,
}

impl DemoClock {
    fn pin(&self, at_ms: i64) {
        self.pinned.store(at_ms, Ordering::SeqCst);
    }
    fn release(&self) {
        self.pinned.store(0, Ordering::SeqCst);
    }
}

impl Clock for DemoClock {
    fn now_ms(&self) -> i64 {
        match self.pinned.load(Ordering::SeqCst) {
            0 => SystemClock.now_ms(),
            at => at,
        }
    }
}

/// How long the jobs may take before the demo gives up.
const JOBS_DEADLINE: Duration = Duration::from_secs(600);

pub async fn run(config: Config, options: DemoOptions) -> anyhow::Result<DemoReport> {
    let tz: Tz = options.timezone.parse().map_err(|_| {
        anyhow::anyhow!(
            "--timezone {}: not an IANA time zone such as Europe/Berlin",
            options.timezone
        )
    })?;
    let server_url = server_url(&config)?;
    let real = SystemClock;
    let clock = Arc::new(DemoClock::default());
    let state = AppState::open(config, clock.clone()).await?;
    let mut api = InProcess::new(app::router(state.clone()));
    let mut rng = match options.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_entropy(),
    };

    // Register at the real time: tokens are checked against the wall clock.
    let suffix: String = (0..8)
        .map(|_| char::from(b"abcdefghijkmnpqrstuvwxyz23456789"[rng.gen_range(0..32)]))
        .collect();
    let email = format!("demo-{suffix}@demo.kalei.app");
    let password = random_password();
    let auth = api
        .post(
            "/v1/auth/register",
            &json!({"email": email, "password": password, "display_name": "Demo", "timezone": options.timezone,
                    "device_name": "kalei demo"}),
        )
        .await?;
    let user_id = auth["user"]["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("register answered without a user id"))?
        .to_string();
    api.sign_in(
        auth["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("register answered without a token"))?
            .to_string(),
    );
    grant_demo_plan(&state, &user_id, real.now_ms()).await?;

    // The eight complete local weeks before the current one.
    let today: NaiveDate = crate::spectrum::local_date(real.now_ms(), tz).parse()?;
    let first_monday = week_start(today) - chrono::Duration::days(writer::WEEKS * 7);
    let plan = writer::plan(&mut rng, first_monday);
    let set_clock = |t: NaiveDateTime| clock.pin(local_to_utc_ms(tz, t));
    let written = write_history(&api, &plan, set_clock).await;
    clock.release();
    written?;

    // Analysis first (the weekly jobs read its results), then the periods.
    let worker = Worker::new(
        state.jobs.clone(),
        crate::jobs::registry(&state),
        crate::jobs::worker_config(&state, None)?,
    )
    .start();
    let drained = async {
        wait_for_jobs(&state, &user_id).await?;
        enqueue_periods(&state, &user_id, first_monday, today).await?;
        wait_for_jobs(&state, &user_id).await
    }
    .await;
    worker.shutdown().await;
    drained?;

    let weekly = api
        .get(&format!("/v1/spectrum/weekly?limit={}", writer::WEEKS))
        .await?;
    let monthly = api.get("/v1/spectrum/monthly").await?;
    state.db.close().await;
    Ok(DemoReport {
        email,
        password,
        timezone: options.timezone,
        docs_url: format!("{server_url}/api/docs"),
        server_url,
        sessions: plan.sessions.len(),
        turns: plan.turns.len(),
        goals: plan.goals.len(),
        weekly,
        monthly,
    })
}

/// Where `kalei serve` with this configuration listens, as a browser URL.
fn server_url(config: &Config) -> anyhow::Result<String> {
    let addr = config.listen_addr().map_err(|e| anyhow::anyhow!(e))?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    Ok(format!("http://{host}:{}", addr.port()))
}

fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = StdRng::from_entropy();
    (0..20)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// Demo only: an active `prism_plus` subscription of store `demo`.
async fn grant_demo_plan(state: &AppState, user_id: &str, now_ms: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO subscriptions (user_id, plan, store, status, updated_at) VALUES ($1, 'prism_plus', 'demo', 'active', $2)",
    )
    .bind(user_id)
    .bind(now_ms)
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// Writes the plan through the API, in time order, with the clock at each
/// entry's moment.
async fn write_history(
    api: &InProcess,
    plan: &writer::Plan,
    set_clock: impl Fn(NaiveDateTime),
) -> anyhow::Result<()> {
    enum Entry<'a> {
        Session(&'a writer::PlannedSession),
        Turn(&'a writer::PlannedTurn),
        Goal(&'a writer::PlannedGoal),
    }
    let mut entries: Vec<(NaiveDateTime, Entry)> = Vec::new();
    entries.extend(plan.sessions.iter().map(|s| (s.at, Entry::Session(s))));
    entries.extend(plan.turns.iter().map(|t| (t.at, Entry::Turn(t))));
    entries.extend(plan.goals.iter().map(|g| (g.at, Entry::Goal(g))));
    entries.sort_by_key(|(at, _)| *at);

    let mut action_ids: Vec<(String, NaiveDateTime)> = Vec::new();
    for (at, entry) in entries {
        // Completions due before this entry happen first.
        action_ids.sort_by_key(|(_, done)| *done);
        while action_ids.first().is_some_and(|(_, done)| *done <= at) {
            let (id, done) = action_ids.remove(0);
            set_clock(done);
            api.post(&format!("/v1/lens/actions/{id}/complete"), &json!({}))
                .await?;
        }
        set_clock(at);
        match entry {
            Entry::Session(s) => {
                let session = api.post("/v1/mirror/sessions", &json!({})).await?;
                let sid = session["id"].as_str().unwrap_or_default().to_string();
                for (i, text) in s.messages.iter().enumerate() {
                    set_clock(at + chrono::Duration::minutes(3 * i as i64 + 1));
                    api.post(
                        "/v1/mirror/messages",
                        &json!({"session_id": sid, "content": text}),
                    )
                    .await?;
                }
                set_clock(at + chrono::Duration::minutes(3 * s.messages.len() as i64 + 2));
                api.post(&format!("/v1/mirror/sessions/{sid}/close"), &json!({}))
                    .await?;
            }
            Entry::Turn(t) => {
                let turn = api
                    .post(
                        "/v1/turns",
                        &json!({"thought": t.thought, "belief_before": t.belief_before}),
                    )
                    .await?;
                let tid = turn["id"].as_str().unwrap_or_default().to_string();
                set_clock(at + chrono::Duration::minutes(2));
                api.post(
                    &format!("/v1/turns/{tid}/save"),
                    &json!({"chosen_reframe": t.chosen_reframe, "belief_after": t.belief_after}),
                )
                .await?;
            }
            Entry::Goal(g) => {
                let goal = api
                    .post("/v1/lens/goals", &json!({"title": g.title}))
                    .await?;
                let gid = goal["id"].as_str().unwrap_or_default().to_string();
                for (title, done) in &g.actions {
                    let action = api
                        .post(
                            &format!("/v1/lens/goals/{gid}/actions"),
                            &json!({"title": title}),
                        )
                        .await?;
                    if let Some(done) = done {
                        let aid = action["id"].as_str().unwrap_or_default().to_string();
                        action_ids.push((aid, *done));
                    }
                }
            }
        }
    }
    action_ids.sort_by_key(|(_, done)| *done);
    for (id, done) in action_ids {
        set_clock(done);
        api.post(&format!("/v1/lens/actions/{id}/complete"), &json!({}))
            .await?;
    }
    Ok(())
}

/// The weekly jobs of the eight weeks and the monthly jobs of every complete
/// month they touch, through the job queue.
async fn enqueue_periods(
    state: &AppState,
    user_id: &str,
    first_monday: NaiveDate,
    today: NaiveDate,
) -> anyhow::Result<()> {
    let mut jobs = Vec::new();
    let mut months = Vec::new();
    for week in 0..writer::WEEKS {
        let monday = first_monday + chrono::Duration::days(week * 7);
        jobs.push(NewJob::of::<WeeklySpectrum>(&WeeklyPayload {
            user_id: user_id.into(),
            week_start: ymd(monday),
        })?);
        for day in [monday, monday + chrono::Duration::days(6)] {
            let key = (day.year(), day.month());
            if !months.contains(&key) {
                months.push(key);
            }
        }
    }
    for (y, m) in months {
        let complete = month_bounds(y, m).is_some_and(|(_, last)| last < today);
        if complete {
            jobs.push(NewJob::of::<MonthlySpectrum>(&MonthlyPayload {
                user_id: user_id.into(),
                month: format!("{y:04}-{m:02}"),
            })?);
        }
    }
    state.jobs.insert_many(&jobs).await?;
    Ok(())
}

/// Waits until none of the user's jobs is pending; fails on a dead letter.
/// Jobs deliberately scheduled for later (a "your week is ready" push held
/// until the end of quiet hours) are not waited for.
async fn wait_for_jobs(state: &AppState, user_id: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + JOBS_DEADLINE;
    loop {
        let (pending, failed): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN state IN ('completed', 'cancelled', 'discarded') THEN 0 \
                 WHEN state = 'scheduled' AND run_at > $2 THEN 0 ELSE 1 END), 0), \
               COALESCE(SUM(CASE WHEN state = 'discarded' THEN 1 ELSE 0 END), 0) FROM jobs WHERE user_id = $1",
        )
        .bind(user_id)
        .bind(state.clock.now_ms())
        .fetch_one(state.db.pool())
        .await?;
        if failed > 0 {
            anyhow::bail!("{failed} demo job(s) failed; see `kalei jobs list --state discarded`");
        }
        if pending == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("{pending} demo job(s) still pending after {JOBS_DEADLINE:?}; is the database busy?");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:+.2}"),
        None => "–".into(),
    }
}

/// The report as a person reads it.
pub fn render(r: &DemoReport) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line("Kalei demo user ready (demo only: plan prism_plus, no store purchase).".into());
    line(format!("  email:     {}", r.email));
    line(format!("  password:  {}", r.password));
    line(format!("  time zone: {}", r.timezone));
    line(format!(
        "  wrote:     {} Mirror sessions, {} Turns, {} Lens goals over 8 weeks",
        r.sessions, r.turns, r.goals
    ));
    line(String::new());
    line("Open (start the server with `kalei serve` on the same configuration):".into());
    line(format!("  server:    {}", r.server_url));
    line(format!("  API docs:  {}", r.docs_url));
    line(format!(
        "  sign in:   POST {}/v1/auth/login, then GET {}/v1/spectrum/weekly and /v1/spectrum/monthly",
        r.server_url, r.server_url
    ));
    line(String::new());
    line("Weekly feed (newest first):".into());
    for w in r.weekly["items"].as_array().into_iter().flatten() {
        let patterns: Vec<String> = w["patterns"]
            .as_array()
            .into_iter()
            .flatten()
            .take(3)
            .map(|p| format!("{} {}", p["type"].as_str().unwrap_or("?"), p["count"]))
            .collect();
        line(format!(
            "  {} – {}  sessions {}  turns {}  mood {} (arousal {})  belief change {}",
            w["week_start"].as_str().unwrap_or("?"),
            w["week_end"].as_str().unwrap_or("?"),
            w["sessions"],
            w["turns"],
            num(&w["vector"]["mean"]["valence"]),
            num(&w["vector"]["mean"]["arousal"]),
            num(&w["turn_impact"]["mean_belief_change"]),
        ));
        line(format!(
            "      patterns: {}",
            if patterns.is_empty() {
                "none".into()
            } else {
                patterns.join(", ")
            }
        ));
        line(format!(
            "      insight:  {}",
            w["insight"]["text"].as_str().unwrap_or("")
        ));
    }
    let m = &r.monthly;
    line(String::new());
    line(format!(
        "Monthly deep dive {}:",
        m["month"].as_str().unwrap_or("?")
    ));
    line(format!(
        "  sessions {}  turns {}  active days {}  longest streak {}  mood {} (spread {})  change {}",
        m["sessions"],
        m["turns"],
        m["activity"]["active_days"],
        m["activity"]["longest_streak_days"],
        num(&m["vector"]["mean"]["valence"]),
        num(&m["vector"]["spread"]["valence"]),
        num(&m["change"]["valence"]),
    ));
    line(format!(
        "  narrative: {}",
        m["insight"]["text"].as_str().unwrap_or("")
    ));
    out
}
