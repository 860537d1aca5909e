//! The `portkey-sim` binary: starts a registered simulator, prints its URL, serves until killed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use portkey_sim::install_ring_provider;

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portkey-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("portkey-sim starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    (Running(child), line.trim().to_owned())
}

fn url_in(line: &str) -> String {
    line.split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned()
}

#[tokio::test]
async fn serves_pve_over_tls_with_flags() {
    install_ring_provider();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let (_child, line) = start(&[
        "pve",
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "--ca-file",
        ca_path.to_str().unwrap(),
        "--guests",
        "120",
        "--pve-version",
        "8",
        "--latency-ms",
        "1",
    ]);
    assert!(
        line.starts_with("portkey-sim: pve listening on https://127.0.0.1:"),
        "{line}"
    );
    assert!(line.contains(ca_path.to_str().unwrap()), "{line}");
    let url = url_in(&line);
    let ca = std::fs::read(&ca_path).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    let response = client
        .get(format!("{url}/api2/json/cluster/resources?type=vm"))
        .header(
            "Authorization",
            "PVEAPIToken=demo@pve!portkey=demo-token-value",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 120);
    let stats: serde_json::Value = serde_json::from_slice(
        &client
            .get(format!("{url}/_sim/stats"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stats["requests"], 1);
}

#[test]
fn rejects_an_impossible_configuration() {
    let output = Command::new(env!("CARGO_BIN_EXE_portkey-sim"))
        .args(["pve", "--listen", "127.0.0.1:0", "--offline-node", "shire"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("local node 'shire' cannot be offline"),
        "{stderr}"
    );
}
