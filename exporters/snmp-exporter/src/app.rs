//! Wiring: shared state, the router (`/snmp`, telemetry, `/config`, `/-/reload`, the kit's base
//! routes) and config reloads (SIGHUP and `POST /-/reload`).

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portkey_kit::deadline::DeadlinePolicy;
use portkey_kit::respond::telemetry_route;
use portkey_kit::server::{Landing, Readiness, base_router, limit_concurrency};

use crate::cli::Cli;
use crate::client::Connector;
use crate::collect::TargetLimits;
use crate::config::emit::{Layout, emit};
use crate::config::{self, Config, ConfigError, LoadOptions};
use crate::handler::snmp;
use crate::self_metrics::SelfMetrics;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    config: RwLock<Arc<Config>>,
    patterns: Vec<String>,
    load_options: LoadOptions,
    /// Opens SNMP sessions.
    pub connector: Arc<dyn Connector>,
    /// Per-target in-flight limits.
    pub limits: TargetLimits,
    /// Deadline policy.
    pub deadline: DeadlinePolicy,
    /// `--snmp.walk-concurrency`.
    pub walk_concurrency: usize,
    /// `--snmp.wrap-large-counters`.
    pub wrap_large_counters: bool,
    /// `--snmp.debug-packets`.
    pub debug_packets: bool,
    /// Self-metrics.
    pub metrics: SelfMetrics,
    /// Serialises reloads.
    reload_lock: tokio::sync::Mutex<()>,
}

impl AppState {
    /// State for `cli` with an already loaded `config`.
    pub fn new(cli: &Cli, config: Config, connector: Arc<dyn Connector>) -> Arc<AppState> {
        let metrics = SelfMetrics::new();
        metrics.record_reload(true);
        Arc::new(AppState {
            config: RwLock::new(Arc::new(config)),
            patterns: cli.flags.config_files.clone(),
            load_options: load_options(cli),
            connector,
            limits: TargetLimits::new(cli.flags.target_concurrency as usize),
            deadline: cli.flags.common.scrape.policy(),
            walk_concurrency: cli.flags.walk_concurrency as usize,
            wrap_large_counters: cli.wrap_large_counters,
            debug_packets: cli.flags.debug_packets,
            metrics,
            reload_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The current config (one `Arc`, shared by every scrape that started under it).
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the config files; on failure the old config stays.
    pub async fn reload(&self) -> Result<(), ConfigError> {
        let _guard = self.reload_lock.lock().await;
        let patterns = self.patterns.clone();
        let options = self.load_options.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            config::load(&patterns, &options, &|name| std::env::var(name).ok())
        })
        .await
        .unwrap_or_else(|e| {
            Err(ConfigError {
                file: "reload".to_owned(),
                message: e.to_string(),
            })
        });
        match loaded {
            Ok(config) => {
                *self
                    .config
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(config);
                self.metrics.record_reload(true);
                tracing::info!("config reloaded");
                Ok(())
            }
            Err(error) => {
                self.metrics.record_reload(false);
                tracing::error!(%error, "config reload failed; keeping the previous config");
                Err(error)
            }
        }
    }
}

/// Load options from flags.
pub fn load_options(cli: &Cli) -> LoadOptions {
    LoadOptions {
        expand_env: cli.flags.expand_env,
    }
}

/// Loads the config the flags name.
pub fn load_config(cli: &Cli) -> Result<Config, ConfigError> {
    config::load(&cli.flags.config_files, &load_options(cli), &|name| {
        std::env::var(name).ok()
    })
}

/// The landing page with a scrape form.
pub fn landing(telemetry_path: &str) -> Landing {
    Landing {
        name: "snmp-exporter",
        version: env!("CARGO_PKG_VERSION"),
        description: "Prometheus SNMP exporter, a drop-in for prometheus/snmp_exporter.",
        note_html: "<form action=\"/snmp\">\n<label>Target: <input type=\"text\" name=\"target\" placeholder=\"X.X.X.X/[::X]\" value=\"::1\"></label><br>\n\
            <label>Auth: <input type=\"text\" name=\"auth\" placeholder=\"auth\" value=\"public_v2\"></label><br>\n\
            <label>Module: <input type=\"text\" name=\"module\" placeholder=\"module\" value=\"if_mib\"></label><br>\n\
            <input type=\"submit\" value=\"Submit\">\n</form>"
            .to_owned(),
        links: vec![
            ("/config".to_owned(), "Config".to_owned()),
            (telemetry_path.to_owned(), "Exporter metrics".to_owned()),
        ],
    }
}

/// The full router.
pub fn router(
    state: Arc<AppState>,
    telemetry_path: &str,
    max_requests: usize,
    readiness: Readiness,
) -> Router {
    let scrapes = Router::new()
        .route("/snmp", get(snmp))
        .route(
            telemetry_path,
            telemetry_route(state.metrics.registry.clone()),
        )
        .with_state(state.clone());
    let admin = Router::new()
        .route("/config", get(show_config))
        .route("/-/reload", get(reload_needs_post).post(reload))
        .with_state(state);
    limit_concurrency(scrapes, max_requests)
        .merge(admin)
        .merge(base_router(landing(telemetry_path), readiness))
}

async fn show_config(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        emit(&state.config(), Layout::Split, true),
    )
        .into_response()
}

async fn reload_needs_post() -> Response {
    (StatusCode::BAD_REQUEST, "POST method expected\n").into_response()
}

async fn reload(State(state): State<Arc<AppState>>) -> Response {
    match state.reload().await {
        Ok(()) => (StatusCode::OK, "config reloaded\n").into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {error}\n"),
        )
            .into_response(),
    }
}

/// Reloads on every SIGHUP until the process ends.
pub fn reload_on_sighup(state: Arc<AppState>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP; reload with POST /-/reload");
            return;
        };
        while hangup.recv().await.is_some() {
            let _ = state.reload().await;
        }
    });
}
