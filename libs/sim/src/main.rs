//! `portkey-sim <simulator> --listen ADDR [--tls] [--latency-ms N] [simulator flags]`
//!
//! Serves one registered simulator until Ctrl-C or SIGTERM; prints one line with its URL
//! (and, with `--tls`, the path of the CA certificate to trust), or for a UDP simulator
//! `udp://ADDR` and what it serves, once it answers.

use std::time::Duration;

use anyhow::Context;
use clap::FromArgMatches;
use portkey_sim::registry::{self, CommonArgs, Kind};
use portkey_sim::{SimServer, TlsIdentity, tls};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let matches = registry::command().get_matches();
    let (name, sub) = matches.subcommand().context("no simulator named")?;
    let simulator = registry::find(name).with_context(|| format!("unknown simulator '{name}'"))?;
    let build = match simulator.kind {
        Kind::Http(build) => build,
        Kind::Udp(start) => {
            let starting = start(sub).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            let running = starting.await.map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            println!(
                "portkey-sim: {name} listening on udp://{} ({})",
                running.local_addr(),
                running.describe()
            );
            wait_for_signal().await;
            running.stop().await;
            return Ok(());
        }
    };
    let common = CommonArgs::from_arg_matches(sub)?;
    let router = build(sub).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;

    let mut builder = SimServer::builder(router)
        .listen(common.listen)
        .latency(Duration::from_millis(common.latency_ms));
    let mut ca_note = String::new();
    if common.tls {
        let mut names: Vec<String> = tls::DEFAULT_NAMES.iter().map(|s| (*s).to_owned()).collect();
        let ip = common.listen.ip();
        if !ip.is_unspecified() && !ip.is_loopback() {
            names.push(ip.to_string());
        }
        let identity = TlsIdentity::generate_for(names)?;
        let path = common.ca_file.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("portkey-sim-{name}-{}-ca.pem", std::process::id()))
        });
        identity
            .write_ca_pem(&path)
            .with_context(|| format!("writing the CA certificate to {}", path.display()))?;
        ca_note = format!(" (CA certificate: {})", path.display());
        builder = builder.tls(identity);
    }
    let server = builder.start().await?;
    println!("portkey-sim: {name} listening on {}{ca_note}", server.url());

    wait_for_signal().await;
    server.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
