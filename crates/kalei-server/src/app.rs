//! Application state and startup: open the database (migrating if asked),
//! pick the counters backend, load keys, build the router, bind, serve until
//! shutdown.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_scalar::{Scalar, Servable};

use kalei_store::counters::{MemoryCounters, RedisCounters, SharedCounters};
use kalei_store::jobs::Jobs;
use kalei_store::{Clock, Db, DbOptions, SystemClock};

use crate::auth::password::PasswordHasher;
use crate::auth::social::SocialVerifier;
use crate::auth::tokens::{load_or_create_signing_key, TokenKeys};
use crate::config::Config;
use crate::http;
use crate::keys::Keyring;

pub struct AppInner {
    pub config: Config,
    pub db: Db,
    pub jobs: Jobs,
    pub counters: SharedCounters,
    pub clock: Arc<dyn Clock>,
    pub tokens: TokenKeys,
    pub passwords: PasswordHasher,
    pub social: SocialVerifier,
    pub metrics: PrometheusHandle,
    /// Column-encryption keys (reloaded when the key file changes).
    pub cipher: Keyring,
    pub billing: crate::billing::BillingVerifiers,
    pub gateway: kalei_ai::Gateway,
    /// Push provider (`[push]`) used by the push delivery job.
    pub push: Arc<dyn crate::notifications::push::Push>,
}

/// Cheap to clone; shared by every handler.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    /// Opens everything the configuration names. Errors are worded for the
    /// operator and name the setting involved.
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
        let db = open_db(&config).await?;
        let counters: SharedCounters = match &config.redis_url {
            Some(url) => Arc::new(
                RedisCounters::connect(url.expose(), &config.redis_key_prefix)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("cannot connect to redis_url (KALEI_REDIS_URL): {e}")
                    })?,
            ),
            None => Arc::new(MemoryCounters::new()),
        };
        let key = load_or_create_signing_key(
            config.auth.signing_key.as_ref().map(|s| s.expose()),
            &config.data_dir,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot load or create the signing key in data_dir (KALEI_DATA_DIR): {e}"
            )
        })?;
        let tokens = TokenKeys::new(&key, &config.auth.issuer, config.auth.access_ttl_secs);
        let social =
            SocialVerifier::from_config(config.auth.apple.as_ref(), config.auth.google.as_ref())
                .map_err(|e| anyhow::anyhow!(e))?;
        let cipher = Keyring::load(&config, &db, clock.now_ms()).await?;
        let billing = crate::billing::BillingVerifiers::from_config(&config.billing)
            .map_err(|e| anyhow::anyhow!(e))?;
        let gateway = kalei_ai::Gateway::new(
            config.ai.clone(),
            db.clone(),
            counters.clone(),
            clock.clone(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the AI gateway (ai): {e}"))?;
        let push = crate::notifications::push::from_config(&config.push)
            .map_err(|e| anyhow::anyhow!("invalid configuration: push: {e}"))?;
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let state = AppState(Arc::new(AppInner {
            jobs: Jobs::with_clock(db.clone(), clock.clone()),
            db,
            counters,
            clock,
            tokens,
            passwords: PasswordHasher::new(cpus),
            social,
            metrics: crate::telemetry::metrics_handle(),
            cipher,
            billing,
            gateway,
            push,
            config,
        }));
        spawn_key_reload(&state);
        Ok(state)
    }
}

/// Polls the key file so `kalei keys rotate` takes effect in running
/// servers and workers without a restart. Stops when the state is dropped.
fn spawn_key_reload(state: &AppState) {
    let every = state.config.encryption.reload_secs;
    if every == 0
        || !matches!(
            state.cipher.source(),
            crate::keys::keyring::KeySource::File(_)
        )
    {
        return;
    }
    let weak = Arc::downgrade(&state.0);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else { return };
            match inner.cipher.reload(&inner.db, inner.clock.now_ms()).await {
                Ok(true) => tracing::info!(
                    active_key = %inner.cipher.active_key(),
                    "encryption key file changed: keys reloaded"
                ),
                Ok(false) => {}
                // Keep sealing with the keys already loaded; say so loudly.
                Err(e) => tracing::error!(
                    error = %format!("{e:#}"),
                    "encryption key file changed but cannot be used; keeping the loaded keys"
                ),
            }
        }
    });
}

/// Connects to the configured database and applies migrations when
/// `migrate_on_start` is set.
pub async fn open_db(config: &Config) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create data_dir (KALEI_DATA_DIR) {}: {e}",
            config.data_dir.display()
        )
    })?;
    let url = config.database_url();
    let db = Db::connect(
        &url,
        &DbOptions {
            max_connections: config.database_max_connections,
            ..DbOptions::default()
        },
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot open database_url (KALEI_DATABASE_URL) {}: {e}",
            crate::config::redact_url_password(&url)
        )
    })?;
    if config.migrate_on_start {
        db.migrate()
            .await
            .map_err(|e| anyhow::anyhow!("migrations failed: {e}"))?;
    }
    Ok(db)
}

/// The full HTTP application.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .merge(crate::auth::router())
        .merge(crate::me::router())
        .merge(crate::preferences::router())
        .merge(crate::privacy::router())
        .merge(crate::mirror::router())
        .merge(crate::turn::router())
        .merge(crate::lens::router())
        .merge(crate::gallery::router())
        .merge(crate::spectrum::router())
        .merge(crate::briefs::router())
        .merge(crate::notifications::router())
        .merge(crate::entitlements::router())
        .merge(crate::billing::router())
        .merge(crate::admin::router())
        .split_for_parts();
    let mut openapi = openapi;
    crate::openapi::document_common_responses(&mut openapi);

    // Idempotency applies to the API routes; ops and docs are read-only.
    let api = api.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        http::idempotency::layer,
    ));
    let openapi_json = serde_json::to_string(&openapi).unwrap_or_default();
    let mut app = Router::new()
        .merge(api)
        .merge(crate::ops::router())
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let body = openapi_json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                }
            }),
        )
        .merge(Scalar::with_url("/api/docs", openapi))
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .with_state(state.clone());

    for layer in http::security::headers() {
        app = app.layer(layer);
    }
    if let Some(cors) = http::security::cors(&state.config.http.cors_origins) {
        app = app.layer(cors);
    }
    app.layer(DefaultBodyLimit::max(state.config.http.body_limit_bytes))
        .layer(RequestBodyLimitLayer::new(
            state.config.http.body_limit_bytes,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(state.config.http.request_timeout_secs),
        ))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(http::observe::observe))
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    pub state: AppState,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], on an injected clock (tests move time).
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Application> {
        let addr = config.listen_addr().map_err(|e| anyhow::anyhow!(e))?;
        let state = AppState::open(config, clock).await?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (KALEI_LISTEN): {e}"))?;
        Ok(Application { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = router(self.state.clone());
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; draining");
}
