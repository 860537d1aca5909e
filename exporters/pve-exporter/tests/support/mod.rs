//! Starts a PVE simulator and a pve-exporter wired to it, both on 127.0.0.1, for one test.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use portkey_kit::server::{Readiness, Server};
use portkey_sim::SimServer;
use portkey_sim::pve::{PveSim, PveSimConfig};
use pve_exporter::{app, cli, config};
use tokio::sync::oneshot;

/// A running simulator plus exporter.
pub struct Harness {
    pub sim: SimServer,
    pub pve: Arc<PveSim>,
    pub exporter: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The token module the simulator accepts by default, over plain HTTP, plus `extra` YAML lines
/// (indented two spaces) for the module.
pub fn token_module(extra: &str) -> String {
    format!(
        "default:\n  user: demo@pve\n  token_name: portkey\n  token_value: demo-token-value\n  scheme: http\n{extra}"
    )
}

/// The same module with password auth.
pub fn password_module(extra: &str) -> String {
    format!("default:\n  user: demo@pve\n  password: demo-password\n  scheme: http\n{extra}")
}

pub async fn start_sim(config: PveSimConfig) -> (SimServer, Arc<PveSim>) {
    let pve = Arc::new(PveSim::new(config).expect("valid simulator config"));
    let sim = SimServer::start(pve.router())
        .await
        .expect("simulator starts");
    (sim, pve)
}

/// Starts an exporter with `yaml` as its pve.yml and `flags`.
pub async fn start_exporter(yaml: &str, flags: &[&str]) -> (String, oneshot::Sender<()>) {
    let mut args = vec!["pve-exporter"];
    args.extend_from_slice(flags);
    let cli = cli::try_parse_from(args).expect("flags parse");
    let config = config::parse_yaml("test.yml", yaml).expect("config is valid");
    let state = app::build_state(&cli, &config).expect("state builds");
    let server = Server::bind(&["127.0.0.1:0".to_owned()], None)
        .await
        .unwrap();
    let addr = server.local_addrs()[0];
    let readiness = Readiness::default();
    readiness.set_ready();
    let router = app::router(
        state,
        &cli.flags.common.web.telemetry_path,
        cli.flags.common.web.max_requests,
        readiness,
    );
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(server.serve(router, async move {
        let _ = rx.await;
    }));
    (format!("http://{addr}"), tx)
}

impl Harness {
    /// Simulator with `sim_config`, exporter with the token module plus `module_extra`.
    pub async fn start(sim_config: PveSimConfig, module_extra: &str, flags: &[&str]) -> Harness {
        Self::start_with(sim_config, |_| token_module(module_extra), flags).await
    }

    /// Simulator, then an exporter whose pve.yml `yaml(sim_target)` builds.
    pub async fn start_with(
        sim_config: PveSimConfig,
        yaml: impl FnOnce(&str) -> String,
        flags: &[&str],
    ) -> Harness {
        let (sim, pve) = start_sim(sim_config).await;
        let (exporter, stop) = start_exporter(&yaml(&sim.target()), flags).await;
        Harness {
            sim,
            pve,
            exporter,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            stop: Some(stop),
        }
    }

    /// `GET /pve?<query>` (the simulator's address as target unless the query names one).
    pub async fn scrape(&self, query: &str) -> (u16, String) {
        let query = if query.contains("target=") {
            query.to_owned()
        } else if query.is_empty() {
            format!("target={}", self.sim.target())
        } else {
            format!("target={}&{query}", self.sim.target())
        };
        self.get(&format!("/pve?{query}")).await
    }

    pub async fn get(&self, path_and_query: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.exporter))
            .send()
            .await
            .expect("exporter answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

/// The value of the sample `series` (name plus labels exactly as printed), if present.
pub fn value(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        let value = rest.strip_prefix(' ')?;
        value.parse().ok()
    })
}

/// `pve_scrape_collector_success{collector="<name>"}`.
pub fn success(exposition: &str, collector: &str) -> Option<f64> {
    value(
        exposition,
        &format!("pve_scrape_collector_success{{collector=\"{collector}\"}}"),
    )
}

/// Whether a `# TYPE` line for `family` is present.
pub fn has_family(exposition: &str, family: &str) -> bool {
    exposition
        .lines()
        .any(|l| l.starts_with(&format!("# TYPE {family} ")))
}

/// Sample lines of `family` (exact name, any labels).
pub fn samples<'a>(exposition: &'a str, family: &'a str) -> Vec<&'a str> {
    exposition
        .lines()
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

/// The tool's path under the workspace rule (skip loudly, or fail with PORTKEY_REQUIRE_TOOLS=1).
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    portkey_sim::tools::find_tool(name)
}
