//! `kalei jobs …`: list, show, retry, cancel, stats and run-a-cron-now, for
//! operators on the command line (the same operations as `/v1/admin/jobs`).

use kalei_store::jobs::{admin, JobState, ListFilter};

use crate::app::AppState;

pub enum JobsOp {
    List {
        state: Option<String>,
        queue: Option<String>,
        kind: Option<String>,
        limit: u32,
        cursor: Option<String>,
    },
    Show(String),
    Retry(String),
    Cancel(String),
    Stats,
    RunCron(String),
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Runs one operation, printing JSON on stdout. Unknown ids, states and
/// schedules are errors with a readable message (non-zero exit).
pub async fn run(state: &AppState, op: JobsOp) -> anyhow::Result<()> {
    let db = &state.db;
    match op {
        JobsOp::List {
            state: job_state,
            queue,
            kind,
            limit,
            cursor,
        } => {
            let job_state = match job_state {
                Some(s) => Some(s.parse::<JobState>().map_err(|_| {
                    anyhow::anyhow!("unknown state `{s}` (available, scheduled, running, retryable, completed, cancelled, discarded)")
                })?),
                None => None,
            };
            let filter = ListFilter {
                state: job_state,
                queue,
                kind,
                user_id: None,
            };
            print_json(&admin::list(db, &filter, limit, cursor.as_deref()).await?)
        }
        JobsOp::Show(id) => print_json(&admin::get(db, &id).await.map_err(|e| not_found(&id, e))?),
        JobsOp::Retry(id) => {
            print_json(&admin::retry(db, &id).await.map_err(|e| not_found(&id, e))?)
        }
        JobsOp::Cancel(id) => print_json(
            &admin::cancel(db, &id)
                .await
                .map_err(|e| not_found(&id, e))?,
        ),
        JobsOp::Stats => print_json(&admin::stats(db).await?),
        JobsOp::RunCron(name) => {
            let scheduler = crate::jobs::scheduler(state)?;
            if !scheduler.names().contains(&name.as_str()) {
                anyhow::bail!(
                    "no cron schedule named `{name}` (known: {})",
                    scheduler.names().join(", ")
                );
            }
            let enqueued = scheduler.run_now(&name).await?;
            println!("{enqueued:?}");
            Ok(())
        }
    }
}

fn not_found(id: &str, e: kalei_store::StoreError) -> anyhow::Error {
    match e {
        kalei_store::StoreError::NotFound => anyhow::anyhow!("no job with id `{id}`"),
        other => anyhow::anyhow!(other),
    }
}
