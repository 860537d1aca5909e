//! A secret never reaches a log line, whatever way it is formatted into one.

use std::io::Write;
use std::sync::{Arc, Mutex};

use portkey_kit::logging::Logfmt;
use portkey_kit::secret::{Secret, SecretError};

const VALUE: &str = "pve-token-9f8e7d6c";

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

#[test]
fn logs_and_errors_never_contain_the_value() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .event_format(Logfmt)
        .finish();
    let secret = Secret::new(VALUE);
    let error = SecretError::Empty {
        path: "/run/secrets/token_value".into(),
    };
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(token = %secret, "display field");
        tracing::warn!(token = ?secret, "debug field");
        tracing::error!("message with {secret} and {secret:?}");
        tracing::error!(%error, "error field");
    });
    let json_captured = Captured::default();
    let writer = json_captured.clone();
    let json = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(json, || {
        tracing::warn!(token = %secret, token_debug = ?secret, "json");
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let json_text = String::from_utf8(json_captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("token=***"), "{text}");
    assert!(
        text.contains("level=warn") && text.contains("msg=\"display field\""),
        "{text}"
    );
    assert!(json_text.contains("***"), "{json_text}");
    for output in [&text, &json_text] {
        assert!(!output.contains(VALUE), "secret leaked: {output}");
    }
    assert!(!error.to_string().contains(VALUE));
}
