//! `snmp-exporter`: see the library for how it works.

use std::process::ExitCode;
use std::sync::Arc;

use portkey_kit::server::{Readiness, Server, shutdown_signal};
use snmp_exporter::config::emit::{Layout, emit};
use snmp_exporter::snmp::AsyncSnmpConnector;
use snmp_exporter::{app, cli, config};

fn main() -> ExitCode {
    portkey_kit::allocator::cap_glibc_arenas();
    let cli = match cli::try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    if let Some(layout) = cli.flags.print_default {
        let layout = match layout {
            cli::PrintLayout::Split => Layout::Split,
            cli::PrintLayout::Flat => Layout::Flat,
        };
        print!("{}", emit(&config::default::config(), layout, false));
        return ExitCode::SUCCESS;
    }
    portkey_kit::logging::init(&cli.flags.common.log);
    let config = match app::load_config(&cli) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid config");
            eprintln!("snmp-exporter: {error}");
            return ExitCode::from(if cli.flags.dry_run { 1 } else { 2 });
        }
    };
    if cli.flags.dry_run {
        println!(
            "config OK: {} modules, {} auths from {}",
            config.modules.len(),
            config.auths.len(),
            config.sources.join(", ")
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match cli.flags.common.runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("snmp-exporter: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(cli, config))
}

async fn run(cli: cli::Cli, config: config::Config) -> ExitCode {
    let listen = cli.flags.common.web.listen_or(cli::DEFAULT_LISTEN);
    let server = match Server::bind(&listen, cli.flags.common.web.config_file.as_deref()).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            eprintln!("snmp-exporter: {error}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %config.sources.join(","),
        modules = config.modules.len(),
        auths = config.auths.len(),
        "snmp-exporter starting"
    );
    let connector = Arc::new(AsyncSnmpConnector::new(Some(
        cli.flags.source_address.clone(),
    )));
    let state = app::AppState::new(&cli, config, connector);
    app::reload_on_sighup(state.clone());
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
