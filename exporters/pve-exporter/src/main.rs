//! `pve-exporter`: see the library for how it works.

use std::process::ExitCode;

use portkey_kit::server::{Readiness, Server, shutdown_signal};
use portkey_kit::web_config::WebConfigSource;
use pve_exporter::{app, cli, config};

fn main() -> ExitCode {
    portkey_kit::allocator::cap_glibc_arenas();
    let cli = match cli::try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    portkey_kit::logging::init(&cli.flags.common.log);
    let runtime = match cli.flags.common.runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("pve-exporter: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: cli::Cli) -> ExitCode {
    let config = match config::load(&cli.flags.config_file, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => return startup_error(&error),
    };
    let state = match app::build_state(&cli, &config) {
        Ok(state) => state,
        Err(error) => return startup_error(&error),
    };
    let web = match (
        &cli.flags.server_certfile,
        &cli.flags.server_keyfile,
        &cli.flags.common.web.config_file,
    ) {
        (Some(_), Some(_), Some(_)) => {
            return startup_error(
                &"--server.certfile/--server.keyfile and --web.config.file are mutually exclusive; put the TLS settings in the web config file",
            );
        }
        (Some(cert), Some(key), None) => match WebConfigSource::tls_files(cert, key) {
            Ok(source) => Some(source),
            Err(error) => return startup_error(&error),
        },
        (Some(_), None, _) | (None, Some(_), _) => {
            return startup_error(&"--server.certfile and --server.keyfile must be given together");
        }
        (None, None, Some(path)) => match WebConfigSource::open(path) {
            Ok(source) => Some(source),
            Err(error) => return startup_error(&error),
        },
        (None, None, None) => None,
    };
    let listen = cli.flags.common.web.listen_or(cli::DEFAULT_LISTEN);
    let server = match Server::bind_with(&listen, web).await {
        Ok(server) => server,
        Err(error) => return startup_error(&error),
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %config.source,
        modules = config.modules.len(),
        "pve-exporter starting"
    );
    spawn_secret_reloader(state.clone(), config);
    let readiness = Readiness::default();
    let router = app::router(
        state,
        &cli.flags.common.web.telemetry_path,
        cli.flags.common.web.max_requests,
        readiness.clone(),
    );
    readiness.set_ready();
    server.serve(router, shutdown_signal()).await;
    ExitCode::SUCCESS
}

/// Re-reads secret files on SIGHUP, so rotated tokens apply without a restart.
fn spawn_secret_reloader(
    state: std::sync::Arc<pve_exporter::handler::AppState>,
    config: config::Config,
) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; secret files are read only at start-up");
            return;
        };
        let mut config = config;
        while hangups.recv().await.is_some() {
            match app::reload_secrets(&state, &config) {
                Ok(reloaded) => {
                    config = reloaded;
                    tracing::info!("secret files reloaded");
                }
                Err(error) => {
                    tracing::error!(%error, "secret files not reloaded; keeping the previous credentials")
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (state, config);
}

fn startup_error(error: &dyn std::fmt::Display) -> ExitCode {
    tracing::error!("{error}");
    eprintln!("pve-exporter: {error}");
    ExitCode::from(2)
}
