//! Turning an encoded exposition into an HTTP response: negotiated format, gzip when accepted.

use std::convert::Infallible;
use std::io::Write as _;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::exposition::{Encoder, Format};

/// Which formats an endpoint may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiation {
    /// OpenMetrics when the client asks for it, else text (the default everywhere).
    Any,
    /// Always the classic text format: for endpoints whose families cannot be expressed in
    /// OpenMetrics (a spec says so where this applies).
    TextOnly,
}

impl Negotiation {
    /// The format for a request with these headers.
    pub fn format(self, headers: &HeaderMap) -> Format {
        match self {
            Negotiation::TextOnly => Format::Text,
            Negotiation::Any => {
                Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
            }
        }
    }

    /// A fresh encoder in the negotiated format.
    pub fn encoder(self, headers: &HeaderMap) -> Encoder {
        Encoder::new(self.format(headers))
    }
}

/// Whether the client accepts gzip (`Accept-Encoding: gzip`, not with `q=0`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let zero_q = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero_q
        })
}

/// Finishes `encoder` into a 200 response with the matching `Content-Type`, gzipped when the
/// request accepts it. The body is streamed chunk by chunk (and compressed as it is sent), so the
/// exposition is never copied into one large buffer and each chunk is freed once written.
pub fn exposition_response(encoder: Encoder, request_headers: &HeaderMap) -> Response {
    let content_type = encoder.format().content_type();
    let chunks = encoder.finish_chunks();
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, HeaderValue::from_static(content_type))
        .header(
            header::VARY,
            HeaderValue::from_static("Accept, Accept-Encoding"),
        );
    let body = if accepts_gzip(request_headers) {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
        Body::from_stream(gzip_stream(futures_util::stream::iter(chunks)))
    } else if chunks.len() == 1 {
        Body::from(chunks.into_iter().next().unwrap_or_default())
    } else {
        Body::from_stream(futures_util::stream::iter(
            chunks.into_iter().map(Ok::<Bytes, Infallible>),
        ))
    };
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Renders an exposition on a blocking thread while the response streams it: chunks travel
/// through a small bounded channel, so memory holds a few chunks however large the output, and a
/// slow client slows the rendering down instead of letting output pile up.
///
/// `render` gets an encoder in the negotiated format. If the client goes away, the remaining
/// chunks are discarded and rendering finishes without blocking.
pub fn streamed_exposition_response<F>(
    negotiation: Negotiation,
    request_headers: &HeaderMap,
    render: F,
) -> Response
where
    F: FnOnce(&mut Encoder) + Send + 'static,
{
    let format = negotiation.format(request_headers);
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(STREAM_DEPTH);
    let chunk_sender = sender.clone();
    tokio::task::spawn_blocking(move || {
        let mut encoder = Encoder::streaming(format, move |chunk| {
            // A closed channel means the client left; drop the rest.
            let _ = chunk_sender.blocking_send(chunk);
        });
        render(&mut encoder);
        for chunk in encoder.finish_chunks() {
            let _ = sender.blocking_send(chunk);
        }
    });
    let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )
        .header(
            header::VARY,
            HeaderValue::from_static("Accept, Accept-Encoding"),
        );
    let body = if accepts_gzip(request_headers) {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
        Body::from_stream(gzip_stream(Box::pin(chunks)))
    } else {
        Body::from_stream(futures_util::StreamExt::map(
            chunks,
            Ok::<Bytes, Infallible>,
        ))
    };
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// The telemetry-path handler: the exporter's own metrics from `registry`, in the negotiated
/// format. Every binary serves its self-metrics this way.
pub fn telemetry_route<S>(registry: crate::metrics::Registry) -> axum::routing::MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    axum::routing::get(move |headers: HeaderMap| {
        let registry = registry.clone();
        async move {
            let mut encoder = Negotiation::Any.encoder(&headers);
            registry.collect(&mut encoder);
            exposition_response(encoder, &headers)
        }
    })
}

/// Chunks in flight between the renderer and the connection.
const STREAM_DEPTH: usize = 4;

/// Compresses `chunks` lazily: each poll compresses one chunk and yields what the compressor
/// produced, the last one also the gzip trailer.
fn gzip_stream<S>(chunks: S) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>>
where
    S: futures_util::Stream<Item = Bytes> + Unpin,
{
    let state = (
        chunks,
        Some(GzEncoder::new(
            Vec::with_capacity(16 * 1024),
            Compression::fast(),
        )),
    );
    futures_util::stream::unfold(state, |(mut chunks, mut gz)| async move {
        let encoder = gz.as_mut()?;
        let produced = match futures_util::StreamExt::next(&mut chunks).await {
            Some(chunk) => encoder
                .write_all(&chunk)
                .and_then(|()| encoder.flush())
                .map(|()| std::mem::take(encoder.get_mut())),
            None => gz.take()?.finish(),
        };
        match produced {
            Ok(bytes) => Some((Ok(Bytes::from(bytes)), (chunks, gz))),
            Err(error) => Some((Err(error), (chunks, None))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::Kind;
    use flate2::read::GzDecoder;
    use http_body_util::BodyExt;
    use std::io::Read;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn gzip_acceptance() {
        assert!(accepts_gzip(&headers(&[("accept-encoding", "gzip")])));
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "br, GZIP;q=0.5"
        )])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "identity")])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn content_type_matches_body_and_gzip_round_trips() {
        let request = headers(&[
            ("accept", "application/openmetrics-text;version=1.0.0"),
            ("accept-encoding", "gzip"),
        ]);
        let mut encoder = Negotiation::Any.encoder(&request);
        encoder.family("a", "A", Kind::Gauge).sample(&[], 1.0);
        let response = exposition_response(encoder, &request);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            crate::exposition::OPENMETRICS_CONTENT_TYPE
        );
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let mut text = String::new();
        GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.ends_with("# EOF\n"));

        let encoder = Negotiation::TextOnly.encoder(&request);
        let response = exposition_response(encoder, &HeaderMap::new());
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            crate::exposition::TEXT_CONTENT_TYPE
        );
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
    }

    #[tokio::test]
    async fn large_bodies_stream_in_chunks_plain_and_gzipped() {
        let build = || {
            let mut encoder = Encoder::new(Format::Text);
            encoder.family("wide", "W", Kind::Gauge);
            for i in 0..20_000 {
                encoder.sample(&[("id", &format!("qemu/{i}"))], f64::from(i));
            }
            encoder
        };
        let expected = build().finish();
        assert!(expected.len() > 5 * crate::exposition::CHUNK_SIZE);

        let plain = exposition_response(build(), &HeaderMap::new());
        let bytes = plain.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], &expected[..]);

        let gzip = headers(&[("accept-encoding", "gzip")]);
        let zipped = exposition_response(build(), &gzip);
        assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip");
        let bytes = zipped.into_body().collect().await.unwrap().to_bytes();
        assert!(bytes.len() < expected.len() / 4);
        let mut text = Vec::new();
        GzDecoder::new(&bytes[..]).read_to_end(&mut text).unwrap();
        assert_eq!(text, expected);
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streamed_rendering_matches_buffered_rendering() {
        let render = |encoder: &mut Encoder| {
            encoder.family("wide", "W", Kind::Gauge);
            for i in 0..20_000 {
                encoder.sample(&[("id", &format!("lxc/{i}"))], f64::from(i));
            }
        };
        let mut buffered = Encoder::new(Format::OpenMetrics);
        render(&mut buffered);
        let expected = buffered.finish();

        let asks_openmetrics = headers(&[("accept", "application/openmetrics-text;version=1.0.0")]);
        let response = streamed_exposition_response(Negotiation::Any, &asks_openmetrics, render);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            crate::exposition::OPENMETRICS_CONTENT_TYPE
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], &expected[..]);

        let gzip = headers(&[("accept-encoding", "gzip")]);
        let response = streamed_exposition_response(Negotiation::TextOnly, &gzip, render);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            crate::exposition::TEXT_CONTENT_TYPE
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let mut text = Vec::new();
        GzDecoder::new(&bytes[..]).read_to_end(&mut text).unwrap();
        let mut plain = Encoder::new(Format::Text);
        render(&mut plain);
        assert_eq!(text, plain.finish());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_leaves_does_not_block_the_renderer() {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let response =
            streamed_exposition_response(Negotiation::Any, &HeaderMap::new(), move |encoder| {
                encoder.family("wide", "W", Kind::Gauge);
                for i in 0..50_000 {
                    encoder.sample(&[("id", &format!("qemu/{i}"))], f64::from(i));
                }
                let _ = done_tx.send(());
            });
        drop(response);
        let finished = tokio::task::spawn_blocking(move || {
            done_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .is_ok()
        })
        .await
        .unwrap();
        assert!(finished, "rendering stalled after the client left");
    }

    #[tokio::test]
    async fn telemetry_route_serves_the_registry_in_the_negotiated_format() {
        use tower::ServiceExt as _;
        let registry = crate::metrics::Registry::new();
        let counter = registry.register(crate::metrics::ValueFamily::counter(
            "x_requests_total",
            "Requests",
            &[],
        ));
        counter.inc(&[]);
        let app: axum::Router = axum::Router::new().route("/metrics", telemetry_route(registry));
        let request = axum::http::Request::get("/metrics")
            .header("accept", "application/openmetrics-text;version=1.0.0")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            crate::exposition::OPENMETRICS_CONTENT_TYPE
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(
            text.contains("# TYPE x_requests counter\nx_requests_total 1\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
