//! Transport options against an HTTPS simulator (spec R8, acceptance 13) and secret files
//! re-read on SIGHUP.

mod support;

use std::sync::Arc;

use portkey_sim::pve::{PveSim, PveSimConfig};
use portkey_sim::{SimServer, TlsIdentity};
use support::{start_exporter, success, value};

async fn https_sim(identity: TlsIdentity) -> SimServer {
    let pve = Arc::new(PveSim::new(PveSimConfig::default()).unwrap());
    SimServer::start_tls(pve.router(), identity).await.unwrap()
}

fn module(extra: &str) -> String {
    format!(
        "default:\n  user: demo@pve\n  token_name: portkey\n  token_value: demo-token-value\n{extra}"
    )
}

async fn api_up(yaml: &str, target: &str) -> (Option<f64>, String) {
    let (exporter, _stop) = start_exporter(yaml, &[]).await;
    let body = reqwest::get(format!("{exporter}/pve?target={target}&node=0"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (value(&body, "pve_api_up"), body)
}

#[tokio::test]
async fn https_with_ca_file_verify_off_and_server_name() {
    let dir = tempfile::tempdir().unwrap();
    let sim = https_sim(TlsIdentity::generate().unwrap()).await;
    let ca = dir.path().join("ca.pem");
    sim.tls().unwrap().write_ca_pem(&ca).unwrap();
    let target = sim.target();

    // The simulator's CA is unknown: verification fails, the scrape still answers.
    let (up, body) = api_up(&module(""), &target).await;
    assert_eq!(up, Some(0.0), "{body}");
    assert_eq!(success(&body, "resources"), Some(0.0));

    let (up, body) = api_up(&module(&format!("  ca_file: {}\n", ca.display())), &target).await;
    assert_eq!(up, Some(1.0), "{body}");
    assert_eq!(success(&body, "resources"), Some(1.0));

    let (up, _) = api_up(&module("  verify_ssl: false\n"), &target).await;
    assert_eq!(up, Some(1.0));

    // verify_ssl given as a CA path works like ca_file.
    let (up, _) = api_up(
        &module(&format!("  verify_ssl: {}\n", ca.display())),
        &target,
    )
    .await;
    assert_eq!(up, Some(1.0));
}

#[tokio::test]
async fn tls_server_name_verifies_a_certificate_that_does_not_name_the_ip() {
    let dir = tempfile::tempdir().unwrap();
    let sim = https_sim(TlsIdentity::generate_for(["pve.example"]).unwrap()).await;
    let ca = dir.path().join("ca.pem");
    sim.tls().unwrap().write_ca_pem(&ca).unwrap();
    let target = sim.target();
    let ca_line = format!("  ca_file: {}\n", ca.display());

    let (up, _) = api_up(&module(&ca_line), &target).await;
    assert_eq!(up, Some(0.0), "the certificate does not name 127.0.0.1");
    let (up, body) = api_up(
        &module(&format!("{ca_line}  tls_server_name: pve.example\n")),
        &target,
    )
    .await;
    assert_eq!(up, Some(1.0), "{body}");
    let (up, _) = api_up(
        &module(&format!("{ca_line}  tls_server_name: other.example\n")),
        &target,
    )
    .await;
    assert_eq!(up, Some(0.0));
}

#[tokio::test]
async fn rotated_token_file_applies_after_reload() {
    use portkey_kit::server::{Readiness, Server};
    use pve_exporter::{app, cli, config};

    let pve = Arc::new(PveSim::new(PveSimConfig::default()).unwrap());
    let sim = SimServer::start(pve.router()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "stale-token\n").unwrap();
    let yaml = format!(
        "default:\n  user: demo@pve\n  token_name: portkey\n  token_value_file: {}\n  scheme: http\n",
        token_file.display()
    );
    let cli = cli::try_parse_from(["pve-exporter"]).unwrap();
    let loaded = config::parse_yaml("pve.yml", &yaml).unwrap();
    let state = app::build_state(&cli, &loaded).unwrap();
    let server = Server::bind(&["127.0.0.1:0".to_owned()], None)
        .await
        .unwrap();
    let url = format!(
        "http://{}/pve?target={}",
        server.local_addrs()[0],
        sim.target()
    );
    tokio::spawn(server.serve(
        app::router(state.clone(), "/metrics", 40, Readiness::default()),
        std::future::pending(),
    ));

    let scrape = || async { reqwest::get(&url).await.unwrap().text().await.unwrap() };
    assert_eq!(value(&scrape().await, "pve_api_up"), Some(0.0));
    std::fs::write(&token_file, "demo-token-value\n").unwrap();
    let reloaded = app::reload_secrets(&state, &loaded).unwrap();
    assert_eq!(value(&scrape().await, "pve_api_up"), Some(1.0));
    // A broken file keeps the running credentials.
    std::fs::write(&token_file, "\n").unwrap();
    let err = app::reload_secrets(&state, &reloaded)
        .unwrap_err()
        .to_string();
    assert!(err.contains("token_value_file"), "{err}");
    assert_eq!(value(&scrape().await, "pve_api_up"), Some(1.0));
}
