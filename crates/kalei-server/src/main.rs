//! `kalei`: serve the API, run workers, migrate, inspect configuration,
//! analyse text offline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use kalei_server::app::{self, Application};
use kalei_server::config::Config;

#[derive(Parser)]
#[command(
    name = "kalei",
    version,
    about = "Kalei backend: API server, workers and admin tools"
)]
struct Cli {
    /// Configuration file (default: ./kalei.toml if present, or $KALEI_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (and, with --role all, the background workers).
    Serve {
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
    },
    /// Run background workers only.
    Worker {
        /// Queues to work (default: all).
        #[arg(long, value_delimiter = ',')]
        queues: Vec<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Inspect and manage background jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Manage the column-encryption keys (rotate, status, retire).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print the effective configuration (secrets redacted).
    Config,
    /// Create a demo user with 8 weeks of synthetic history, run its jobs and
    /// print the login and the resulting Spectrum (a new user on every run).
    Demo {
        /// The demo user's IANA time zone (their weeks are local weeks).
        #[arg(long, default_value = "Europe/Berlin")]
        timezone: String,
        /// Seed for the synthetic writer (random by default).
        #[arg(long)]
        seed: Option<u64>,
        /// Print the report as one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Analyse text offline: stdin → JSON (or JSON lines with --jsonl).
    Analyze {
        /// Read `{"id":…,"text":…}` lines and write `{"id":…,"analysis":…}` lines.
        #[arg(long)]
        jsonl: bool,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// available, scheduled, running, retryable, completed, cancelled or discarded
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        queue: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one job.
    Show { id: String },
    /// Run a job again now with fresh attempts (e.g. a dead letter).
    Retry { id: String },
    /// Cancel a job that has not finished.
    Cancel { id: String },
    /// Job counts per queue and state.
    Stats,
    /// Enqueue a cron schedule's job now.
    RunCron { name: String },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new key and seal new values with it; old values are re-sealed
    /// by a background job (with configured keys: print what to add).
    Rotate,
    /// The active and loaded keys and how many stored values use each.
    Status,
    /// Remove an old key once no stored value uses it.
    Retire { id: String },
    /// Enqueue the re-encryption job for the active key again.
    Reencrypt,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Role {
    /// HTTP API only (stateless replica).
    Api,
    /// HTTP API and in-process workers.
    All,
}

impl From<JobsCommand> for kalei_server::jobs_cmd::JobsOp {
    fn from(c: JobsCommand) -> Self {
        use kalei_server::jobs_cmd::JobsOp;
        match c {
            JobsCommand::List {
                state,
                queue,
                kind,
                limit,
                cursor,
            } => JobsOp::List {
                state,
                queue,
                kind,
                limit,
                cursor,
            },
            JobsCommand::Show { id } => JobsOp::Show(id),
            JobsCommand::Retry { id } => JobsOp::Retry(id),
            JobsCommand::Cancel { id } => JobsOp::Cancel(id),
            JobsCommand::Stats => JobsOp::Stats,
            JobsCommand::RunCron { name } => JobsOp::RunCron(name),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Analyze { jsonl } = cli.command {
        // Pure and synchronous: no runtime, no configuration needed.
        let code = kalei_server::analyze_cmd::run(
            jsonl,
            std::io::stdin().lock(),
            std::io::stdout().lock(),
            std::io::stderr().lock(),
        );
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kalei: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Config = cli.command {
        print!("{}", config.redacted_toml());
        return ExitCode::SUCCESS;
    }
    kalei_server::telemetry::init_logging(&config.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kalei: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kalei: {e:#}");
            tracing::error!(error = %format!("{e:#}"), "kalei stopped with an error");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { role } => {
            let app = Application::build(config).await?;
            let app_state = app.state.clone();
            let worker = match role {
                Role::All => Some(kalei_server::jobs::start_worker(&app.state, None)?),
                Role::Api => None,
            };
            tracing::info!(
                addr = %app.local_addr(),
                database = app.state.db.dialect().as_str(),
                counters = app.state.counters.backend(),
                workers = worker.is_some(),
                "kalei serving"
            );
            // HTTP drains first, then the workers finish or hand back their jobs.
            app.run_until(app::shutdown_signal()).await?;
            if let Some(worker) = worker {
                let report = worker.shutdown().await;
                tracing::info!(report = ?report, "workers stopped");
            }
            // Usage events are written in batches: flush the last one.
            app_state.gateway.flush().await;
            tracing::info!("kalei stopped");
            Ok(())
        }
        Command::Worker { queues } => {
            let state = kalei_server::app::AppState::open(
                config,
                std::sync::Arc::new(kalei_store::SystemClock),
            )
            .await?;
            let spec = queues.join(",");
            let worker = kalei_server::jobs::start_worker(&state, Some(&spec))?;
            tracing::info!(worker = worker.id(), queues = %spec, "kalei worker started");
            app::shutdown_signal().await;
            let report = worker.shutdown().await;
            tracing::info!(report = ?report, "kalei worker stopped");
            Ok(())
        }
        Command::Jobs { command } => {
            let state = kalei_server::app::AppState::open(
                config,
                std::sync::Arc::new(kalei_store::SystemClock),
            )
            .await?;
            kalei_server::jobs_cmd::run(&state, command.into()).await
        }
        Command::Keys { command } => {
            use kalei_server::keys::cmd::KeysOp;
            let db = app::open_db(&config).await?;
            let op = match command {
                KeysCommand::Rotate => KeysOp::Rotate,
                KeysCommand::Status => KeysOp::Status,
                KeysCommand::Retire { id } => KeysOp::Retire(id),
                KeysCommand::Reencrypt => KeysOp::Reencrypt,
            };
            let now = kalei_store::Clock::now_ms(&kalei_store::SystemClock);
            let result = kalei_server::keys::cmd::run(&config, &db, now, op).await;
            db.close().await;
            println!("{}", result?);
            Ok(())
        }
        Command::Demo {
            timezone,
            seed,
            json,
        } => {
            let report =
                kalei_server::demo::run(config, kalei_server::demo::DemoOptions { timezone, seed })
                    .await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", kalei_server::demo::render(&report));
            }
            Ok(())
        }
        Command::Migrate => {
            config.migrate_on_start = false;
            let db = app::open_db(&config).await?;
            let pending = db.pending_migrations().await?;
            db.migrate().await?;
            println!(
                "database {}: applied {} migration(s), schema is current",
                db.dialect().as_str(),
                pending.len()
            );
            db.close().await;
            Ok(())
        }
        Command::Config | Command::Analyze { .. } => unreachable!("handled before the runtime"),
    }
}
