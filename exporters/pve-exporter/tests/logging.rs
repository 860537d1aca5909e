//! No secret reaches a log line, while failures are still logged with what is needed to act on
//! them (spec R5). Runs in its own test binary because it installs the global subscriber.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use portkey_kit::logging::Logfmt;
use portkey_sim::Fault;
use portkey_sim::pve::PveSimConfig;
use support::Harness;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn failures_are_logged_without_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .event_format(Logfmt)
            .finish(),
    )
    .unwrap();

    // Token module: a 403 on one call and a rejected token.
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    h.sim.faults().set(
        "/api2/json/cluster/status",
        Fault::Error {
            status: 403,
            reason: "Permission check failed (/, Sys.Audit)".into(),
            body: None,
        },
    );
    h.scrape("").await;
    // HTML from a proxy instead of JSON.
    h.sim.faults().set(
        "/api2/json/version",
        Fault::Status(200, Some("<html>login</html>".into())),
    );
    h.scrape("").await;
    drop(h);

    // Password module with a wrong password.
    let h = Harness::start_with(
        PveSimConfig::default(),
        |_| {
            "default:\n  user: demo@pve\n  password: hunter2-wrong-password\n  scheme: http\n"
                .to_owned()
        },
        &[],
    )
    .await;
    h.scrape("").await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("Permission check failed (/, Sys.Audit)")
            && text.contains("path=/cluster/status"),
        "the 403 is logged with its path and reason:\n{text}"
    );
    assert!(text.contains("module=default"), "{text}");
    assert!(text.contains("login failed"), "{text}");
    for secret in ["demo-token-value", "hunter2-wrong-password", "PVEAPIToken"] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the log:\n{text}"
        );
    }
}
