//! The upstream client against local servers: keep-alive reuse, timeouts and the scrape
//! deadline, body limits, reason phrases, TLS options and error kinds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use portkey_kit::client::{CallError, ClientOptions, UpstreamClient};
use portkey_kit::deadline::Deadline;
use portkey_kit::server::{Landing, Readiness, Server, base_router};
use portkey_kit::tls_client::TlsOptions;
use tokio::net::TcpListener;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Serves `router` over plain HTTP and counts accepted connections.
async fn serve_counting(router: Router) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            let router = router.clone();
            tokio::spawn(async move {
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), accepted)
}

fn router() -> Router {
    Router::new()
        .route("/ok", get(|| async { "{\"data\":1}" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route("/big", get(|| async { "x".repeat(10_000) }))
        .route(
            "/denied",
            get(|| async {
                let mut response = StatusCode::FORBIDDEN.into_response();
                response
                    .extensions_mut()
                    .insert(hyper::ext::ReasonPhrase::from_static(
                        b"Permission check failed (/, Sys.Audit)",
                    ));
                response
            }),
        )
}

fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(2),
        max_body_bytes: 1000,
        ..ClientOptions::default()
    }
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(10))
}

#[tokio::test]
async fn connections_are_reused_across_calls() {
    let (base, accepted) = serve_counting(router()).await;
    let client = UpstreamClient::new(&options()).unwrap();
    for _ in 0..5 {
        let response = client
            .get(&format!("{base}/ok"), Default::default(), &deadline())
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(&response.body[..], b"{\"data\":1}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_deadline_and_the_call_timeout_both_bound_a_call() {
    let (base, _) = serve_counting(router()).await;
    let client = UpstreamClient::new(&options()).unwrap();
    let started = std::time::Instant::now();
    let err = client
        .get(
            &format!("{base}/slow"),
            Default::default(),
            &Deadline::after(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Timeout(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
    let err = client
        .get(&format!("{base}/slow"), Default::default(), &deadline())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "timeout");
    assert!(err.is_unreachable());
    // An already expired deadline makes no call at all.
    let expired = Deadline::after(Duration::ZERO);
    let err = client
        .get(&format!("{base}/ok"), Default::default(), &expired)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "timeout");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let (base, _) = serve_counting(router()).await;
    let client = UpstreamClient::new(&options()).unwrap();
    let err = client
        .get(&format!("{base}/big"), Default::default(), &deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::BodyTooLarge { limit: 1000 }),
        "{err}"
    );
}

#[tokio::test]
async fn custom_reason_phrases_are_surfaced() {
    let (base, _) = serve_counting(router()).await;
    let client = UpstreamClient::new(&options()).unwrap();
    let response = client
        .get(&format!("{base}/denied"), Default::default(), &deadline())
        .await
        .unwrap();
    assert_eq!(response.status, 403);
    assert_eq!(
        response.reason_or_canonical(),
        "Permission check failed (/, Sys.Audit)"
    );
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = UpstreamClient::new(&options()).unwrap();
    let err = client
        .get(&format!("http://{addr}/"), Default::default(), &deadline())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "connect", "{err}");
    assert!(err.is_unreachable());
}

async fn tls_server() -> (String, tokio::sync::oneshot::Sender<()>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("cert-a.pem"), dir.path().join("tls.crt")).unwrap();
    std::fs::copy(data("key-a.pem"), dir.path().join("tls.key")).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n",
    )
    .unwrap();
    let server = Server::bind(&["127.0.0.1:0".to_owned()], Some(&web))
        .await
        .unwrap();
    let port = server.local_addrs()[0].port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let landing = Landing {
        name: "t",
        version: "0",
        description: "t",
        note_html: String::new(),
        links: vec![],
    };
    tokio::spawn(async move {
        let _dir = dir;
        server
            .serve(base_router(landing, Readiness::default()), async move {
                let _ = rx.await;
            })
            .await;
    });
    (format!("https://127.0.0.1:{port}/-/healthy"), tx)
}

fn tls_client(tls: TlsOptions) -> UpstreamClient {
    UpstreamClient::new(&ClientOptions { tls, ..options() }).unwrap()
}

#[tokio::test]
async fn tls_options_ca_file_server_name_and_insecure() {
    let (url, _stop) = tls_server().await;
    // Unknown CA: refused.
    let err = tls_client(TlsOptions::default())
        .get(&url, Default::default(), &deadline())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "tls", "{err}");
    // CA file: accepted (the certificate names 127.0.0.1).
    let ok = tls_client(TlsOptions {
        ca_file: Some(data("cert-a.pem")),
        ..TlsOptions::default()
    })
    .get(&url, Default::default(), &deadline())
    .await
    .unwrap();
    assert_eq!(ok.status, 200);
    // A server name the certificate carries, while connecting by IP: accepted.
    let ok = tls_client(TlsOptions {
        ca_file: Some(data("cert-a.pem")),
        server_name: Some("pve.example".into()),
        ..TlsOptions::default()
    })
    .get(&url, Default::default(), &deadline())
    .await
    .unwrap();
    assert_eq!(ok.status, 200);
    // A server name it does not carry: refused.
    let err = tls_client(TlsOptions {
        ca_file: Some(data("cert-a.pem")),
        server_name: Some("other.example".into()),
        ..TlsOptions::default()
    })
    .get(&url, Default::default(), &deadline())
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "tls", "{err}");
    // Explicit opt-out: accepted without any CA.
    let ok = tls_client(TlsOptions {
        insecure_skip_verify: true,
        ..TlsOptions::default()
    })
    .get(&url, Default::default(), &deadline())
    .await
    .unwrap();
    assert_eq!(ok.status, 200);
}

#[test]
fn unusable_tls_settings_are_start_up_errors() {
    let err = UpstreamClient::new(&ClientOptions {
        tls: TlsOptions {
            ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..TlsOptions::default()
        },
        ..ClientOptions::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"));
    let err = UpstreamClient::new(&ClientOptions {
        tls: TlsOptions {
            server_name: Some("bad name!".into()),
            ..TlsOptions::default()
        },
        ..ClientOptions::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("bad name!"));
}
