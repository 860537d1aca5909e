//! Wiring: from parsed flags and a loaded config to the router and the server.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use portkey_kit::allowlist::Allowlist;
use portkey_kit::respond::telemetry_route;
use portkey_kit::server::{Landing, Readiness, base_router, limit_concurrency};
use portkey_kit::target::Target;

use crate::api::ApiClient;
use crate::cli::Cli;
use crate::config::Config;
use crate::handler::{AppState, ModuleState, pve};
use crate::self_metrics::SelfMetrics;

/// A start-up problem; `main` prints it and exits 2.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The module config is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A module's TLS settings are unusable.
    #[error("module '{module}': {source}")]
    Tls {
        /// The module.
        module: String,
        /// What is wrong.
        source: portkey_kit::tls_client::TlsConfigError,
    },
    /// A module's allowlist or failover entry is invalid.
    #[error("module '{module}': {message}")]
    Module {
        /// The module.
        module: String,
        /// What is wrong.
        message: String,
    },
}

/// Builds the handler state for `config` under `cli`.
pub fn build_state(cli: &Cli, config: &Config) -> Result<Arc<AppState>, StartupError> {
    let mut modules = BTreeMap::new();
    for (name, module) in &config.modules {
        let client = ApiClient::new(module).map_err(|source| StartupError::Tls {
            module: name.clone(),
            source,
        })?;
        let allowlist = Allowlist::parse(module.allowed_targets.as_deref().unwrap_or_default())
            .map_err(|e| StartupError::Module {
                module: name.clone(),
                message: e.to_string(),
            })?;
        let mut failover = Vec::new();
        for entry in &module.failover_targets {
            let target = Target::parse(entry).map_err(|e| StartupError::Module {
                module: name.clone(),
                message: format!("failover_targets entry '{entry}': {e}"),
            })?;
            if !allowlist.is_empty() && !allowlist.allows(&target, module.port) {
                return Err(StartupError::Module {
                    module: name.clone(),
                    message: format!("failover_targets entry '{entry}' is not in allowed_targets"),
                });
            }
            failover.push(target);
        }
        modules.insert(
            name.clone(),
            ModuleState {
                module: module.clone(),
                client,
                allowlist,
                failover,
                last_good_failover: Mutex::new(None),
            },
        );
    }
    let metrics = SelfMetrics::new(
        modules.keys().map(String::as_str),
        cli.api_metrics,
        cli.target_metrics,
    );
    Ok(Arc::new(AppState {
        modules,
        collectors: cli.collectors,
        compat_not_backed_up_total: cli.compat_not_backed_up_total,
        default_target: cli.flags.default_target.clone(),
        default_max_concurrency: usize::from(cli.flags.max_concurrency),
        deadline: cli.flags.common.scrape.policy(),
        metrics,
    }))
}

/// The landing page (it must say where the PVE data is: users read `/metrics` and see only
/// process metrics otherwise).
pub fn landing(telemetry_path: &str) -> Landing {
    Landing {
        name: "pve-exporter",
        version: env!("CARGO_PKG_VERSION"),
        description: "Prometheus exporter for Proxmox VE, a drop-in for prometheus-pve-exporter.",
        note_html: "<p>Proxmox VE data is served on <a href=\"/pve?target=localhost\"><code>/pve?target=&lt;host&gt;</code></a> \
            (parameters <code>module</code>, <code>cluster</code>, <code>node</code>). \
            The telemetry path only carries the exporter's own metrics.</p>"
            .to_owned(),
        links: vec![
            ("/pve?target=localhost".to_owned(), "PVE metrics of localhost".to_owned()),
            (telemetry_path.to_owned(), "Exporter metrics".to_owned()),
        ],
    }
}

/// The full router: `/pve`, the telemetry path, and the kit's base routes.
pub fn router(
    state: Arc<AppState>,
    telemetry_path: &str,
    max_requests: usize,
    readiness: Readiness,
) -> Router {
    let scrapes = Router::new()
        .route("/pve", get(pve))
        .route(
            telemetry_path,
            telemetry_route(state.metrics.registry.clone()),
        )
        .with_state(state);
    limit_concurrency(scrapes, max_requests).merge(base_router(landing(telemetry_path), readiness))
}

/// Re-reads every `*_file` secret of `config` and hands the new credentials to the running
/// clients (SIGHUP). On error the running credentials stay in place.
pub fn reload_secrets(
    state: &AppState,
    config: &Config,
) -> Result<Config, crate::config::ConfigError> {
    let reloaded = config.reload_secret_files()?;
    for (name, module) in &reloaded.modules {
        if let Some(running) = state.modules.get(name) {
            running.client.set_auth(module.auth.clone());
        }
    }
    Ok(reloaded)
}
