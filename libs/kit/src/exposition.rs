//! Prometheus exposition formats, written by one encoder.
//!
//! Portkey writes its own exposition instead of going through a metrics registry because the
//! exporters must reproduce their incumbents byte for byte where it matters: HELP strings without
//! an appended period, counters whose `# TYPE` line names the `_total` sample in the classic text
//! format, info-style gauges, and families that only the classic format can express (pve-exporter
//! has a gauge `x` and a counter `x_total`, which collide in OpenMetrics). Target data is built per
//! scrape, so an encoder that appends straight into one buffer is also the cheapest path.
//!
//! [`Encoder`] streams families and samples into 64 KiB chunks, which a response can send as they
//! fill.

use std::collections::HashSet;
use std::fmt::Write as _;

use bytes::Bytes;

/// Size at which the encoder hands a filled buffer over and starts a new one. Below glibc's
/// mmap threshold, so the chunks of one scrape are reused by the next instead of each large
/// allocation raising the process's resident memory; and small enough to stream.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// Media type of the classic Prometheus text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Media type of OpenMetrics 1.0 text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The two exposition formats Prometheus negotiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic text format 0.0.4: what every scraper understands.
    Text,
    /// OpenMetrics 1.0 text: what Prometheus asks for first.
    OpenMetrics,
}

impl Format {
    /// Picks the format for an `Accept` header.
    ///
    /// OpenMetrics is chosen only when the client lists `application/openmetrics-text` with a
    /// non-zero quality that is at least as high as anything else it accepts; anything else,
    /// including no header at all, gets the classic text format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut openmetrics_q = 0.0_f32;
        let mut other_q = 0.0_f32;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut q = 1.0_f32;
            let mut version_ok = true;
            for param in parts {
                if let Some((key, value)) = param.split_once('=') {
                    let value = value.trim().trim_matches('"');
                    match key.trim().to_ascii_lowercase().as_str() {
                        "q" => q = value.parse().unwrap_or(0.0),
                        "version" if media == "application/openmetrics-text" => {
                            version_ok = value.starts_with("1.") || value == "1";
                        }
                        _ => {}
                    }
                }
            }
            if media == "application/openmetrics-text" {
                if version_ok {
                    openmetrics_q = openmetrics_q.max(q);
                }
            } else {
                other_q = other_q.max(q);
            }
        }
        if openmetrics_q > 0.0 && openmetrics_q >= other_q {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The `Content-Type` that matches what [`Encoder`] writes in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// The metric type written on a family's `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A monotonic total; its sample name ends in `_total`.
    Counter,
    /// Cumulative buckets plus `_sum` and `_count`.
    Histogram,
    /// Quantiles (possibly none) plus `_sum` and `_count`.
    Summary,
    /// No type information (`untyped` in text, `unknown` in OpenMetrics).
    Unknown,
}

impl Kind {
    fn type_word(self, format: Format) -> &'static str {
        match (self, format) {
            (Kind::Gauge, _) => "gauge",
            (Kind::Counter, _) => "counter",
            (Kind::Histogram, _) => "histogram",
            (Kind::Summary, _) => "summary",
            (Kind::Unknown, Format::Text) => "untyped",
            (Kind::Unknown, Format::OpenMetrics) => "unknown",
        }
    }
}

/// Streams metric families into a byte buffer in one [`Format`].
///
/// Call [`Encoder::family`] once per family, then [`Encoder::sample`] for each of its samples.
/// Label pairs are written in the order given: callers that promise sorted labels pass them sorted.
/// A family name that was already written is refused (its samples are dropped and counted in
/// [`Encoder::dropped_samples`]) because a repeated family makes the whole exposition invalid.
pub struct Encoder {
    out: Vec<u8>,
    /// Filled buffers, in order; the exposition is `chunks` followed by `out`.
    chunks: Vec<Bytes>,
    /// Where filled buffers go instead of `chunks` when the exposition is streamed as it is
    /// written.
    sink: Option<Box<dyn FnMut(Bytes) + Send>>,
    format: Format,
    /// Name the samples of the current family are written under.
    sample_name: String,
    families: HashSet<String>,
    skipping: bool,
    dropped: u64,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("format", &self.format)
            .field("buffered", &self.out.len())
            .field("chunks", &self.chunks.len())
            .field("streaming", &self.sink.is_some())
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Creates an encoder that hands every filled chunk to `sink` as soon as it is full, so the
    /// whole exposition never sits in memory; [`Encoder::finish_chunks`] returns the rest.
    pub fn streaming(format: Format, sink: impl FnMut(Bytes) + Send + 'static) -> Self {
        let mut encoder = Self::with_capacity(format, CHUNK_SIZE + 1024);
        encoder.sink = Some(Box::new(sink));
        encoder
    }

    /// Creates an encoder for `format`.
    pub fn new(format: Format) -> Self {
        Self::with_capacity(format, 4096)
    }

    /// Creates an encoder whose first buffer starts with `capacity` bytes (at most
    /// [`CHUNK_SIZE`]), for exporters that know their output is small or large.
    pub fn with_capacity(format: Format, capacity: usize) -> Self {
        Encoder {
            out: Vec::with_capacity(capacity.min(CHUNK_SIZE + 1024)),
            chunks: Vec::new(),
            sink: None,
            format,
            sample_name: String::new(),
            families: HashSet::new(),
            skipping: false,
            dropped: 0,
        }
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Starts a family. For counters pass the sample name including `_total`; the OpenMetrics
    /// descriptor drops the suffix as that format requires.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) -> &mut Self {
        let descriptor = match (kind, self.format) {
            (Kind::Counter, Format::OpenMetrics) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        self.sample_name.clear();
        self.sample_name.push_str(name);
        if !self.families.insert(descriptor.to_owned()) {
            self.skipping = true;
            return self;
        }
        self.skipping = false;
        self.out.extend_from_slice(b"# HELP ");
        self.out.extend_from_slice(descriptor.as_bytes());
        self.out.push(b' ');
        escape_help(&mut self.out, help, self.format);
        self.out.extend_from_slice(b"\n# TYPE ");
        self.out.extend_from_slice(descriptor.as_bytes());
        self.out.push(b' ');
        self.out
            .extend_from_slice(kind.type_word(self.format).as_bytes());
        self.out.push(b'\n');
        self.flush_full();
        self
    }

    /// Writes a sample named after the current family.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.sample_with_suffix("", labels, value)
    }

    /// Writes a sample whose name is the family name plus `suffix` (`_bucket`, `_sum`, `_count`).
    pub fn sample_with_suffix(
        &mut self,
        suffix: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) -> &mut Self {
        if self.skipping {
            self.dropped += 1;
            return self;
        }
        self.out.extend_from_slice(self.sample_name.as_bytes());
        self.out.extend_from_slice(suffix.as_bytes());
        write_labels(&mut self.out, labels.iter().map(|(k, v)| (*k, *v)));
        self.out.push(b' ');
        write_value(&mut self.out, value);
        self.out.push(b'\n');
        self.flush_full();
        self
    }

    /// Hands the current buffer over once it reaches [`CHUNK_SIZE`] (always at a line end).
    fn flush_full(&mut self) {
        if self.out.len() >= CHUNK_SIZE {
            let full = Bytes::from(std::mem::replace(
                &mut self.out,
                Vec::with_capacity(CHUNK_SIZE + 1024),
            ));
            match &mut self.sink {
                Some(sink) => sink(full),
                None => self.chunks.push(full),
            }
        }
    }

    /// Samples dropped because their family name was already written.
    pub fn dropped_samples(&self) -> u64 {
        self.dropped
    }

    /// Whether any family has been written.
    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// Ends the exposition (OpenMetrics requires `# EOF`) and returns it as one buffer.
    pub fn finish(self) -> Vec<u8> {
        let chunks = self.finish_chunks();
        let mut all = Vec::with_capacity(chunks.iter().map(Bytes::len).sum());
        for chunk in chunks {
            all.extend_from_slice(&chunk);
        }
        all
    }

    /// Ends the exposition and returns it as the chunks it was written in, for streaming
    /// without copying it into one large buffer.
    pub fn finish_chunks(mut self) -> Vec<Bytes> {
        if self.format == Format::OpenMetrics {
            self.out.extend_from_slice(b"# EOF\n");
        }
        if !self.out.is_empty() {
            self.chunks.push(Bytes::from(self.out));
        }
        self.chunks
    }
}

fn escape_help(out: &mut Vec<u8>, help: &str, format: Format) {
    for byte in help.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' if format == Format::OpenMetrics => out.extend_from_slice(b"\\\""),
            _ => out.push(byte),
        }
    }
}

fn write_labels<'a>(out: &mut Vec<u8>, labels: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut first = true;
    for (name, value) in labels {
        out.push(if first { b'{' } else { b',' });
        first = false;
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"=\"");
        for byte in value.bytes() {
            match byte {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'"' => out.extend_from_slice(b"\\\""),
                _ => out.push(byte),
            }
        }
        out.push(b'"');
    }
    if !first {
        out.push(b'}');
    }
}

/// Writes a float the way Prometheus parses it: `+Inf`, `-Inf`, `NaN`, otherwise the shortest
/// representation that round-trips.
pub fn write_value(out: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        // Integral values are by far the most common; print them without going through f64
        // formatting, which is slower and would print `1e15`-sized values in full anyway.
        let mut buf = itoa_buffer();
        let _ = write!(buf, "{}", value as i64);
        out.extend_from_slice(buf.as_bytes());
    } else {
        let mut buf = itoa_buffer();
        // Both forms are the shortest text that round-trips; the exponent form keeps very large
        // and very small magnitudes from printing hundreds of digits.
        let magnitude = value.abs();
        if (1e-5..1e15).contains(&magnitude) {
            let _ = write!(buf, "{value}");
        } else {
            let _ = write!(buf, "{value:e}");
        }
        out.extend_from_slice(buf.as_bytes());
    }
}

fn itoa_buffer() -> String {
    String::with_capacity(24)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(format: Format, build: impl FnOnce(&mut Encoder)) -> String {
        let mut encoder = Encoder::new(format);
        build(&mut encoder);
        String::from_utf8(encoder.finish()).unwrap()
    }

    #[test]
    fn negotiation_prefers_openmetrics_only_when_asked() {
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=0.0.1")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("text/plain;q=1,application/openmetrics-text;q=0.5")),
            Format::Text
        );
    }

    #[test]
    fn counters_are_named_per_format() {
        let build = |e: &mut Encoder| {
            e.family("requests_total", "Requests served", Kind::Counter)
                .sample(&[("code", "200")], 3.0);
        };
        assert_eq!(
            text(Format::Text, build),
            "# HELP requests_total Requests served\n# TYPE requests_total counter\nrequests_total{code=\"200\"} 3\n"
        );
        assert_eq!(
            text(Format::OpenMetrics, build),
            "# HELP requests Requests served\n# TYPE requests counter\nrequests_total{code=\"200\"} 3\n# EOF\n"
        );
    }

    #[test]
    fn escapes_labels_and_help() {
        let out = text(Format::Text, |e| {
            e.family("x", "a \\ b\nc \"q\"", Kind::Gauge)
                .sample(&[("v", "quote\" back\\ nl\n ünï")], 1.0);
        });
        assert_eq!(
            out,
            "# HELP x a \\\\ b\\nc \"q\"\n# TYPE x gauge\nx{v=\"quote\\\" back\\\\ nl\\n ünï\"} 1\n"
        );
    }

    #[test]
    fn values_round_trip() {
        for value in [
            0.0,
            1.0,
            -3.0,
            0.25,
            1e11,
            1e20,
            123456.789,
            f64::MIN_POSITIVE,
        ] {
            let mut out = Vec::new();
            write_value(&mut out, value);
            let parsed: f64 = std::str::from_utf8(&out).unwrap().parse().unwrap();
            assert_eq!(parsed, value, "{}", String::from_utf8_lossy(&out));
        }
        let mut out = Vec::new();
        write_value(&mut out, f64::INFINITY);
        out.push(b' ');
        write_value(&mut out, f64::NEG_INFINITY);
        out.push(b' ');
        write_value(&mut out, f64::NAN);
        assert_eq!(out, b"+Inf -Inf NaN");
    }

    #[test]
    fn repeated_family_is_dropped_and_counted() {
        let mut encoder = Encoder::new(Format::Text);
        encoder.family("a", "h", Kind::Gauge).sample(&[], 1.0);
        encoder.family("a", "h", Kind::Gauge).sample(&[], 2.0);
        assert_eq!(encoder.dropped_samples(), 1);
        let out = String::from_utf8(encoder.finish()).unwrap();
        assert_eq!(out.matches("# TYPE a").count(), 1);
        assert!(!out.contains("a 2"));
    }

    #[test]
    fn openmetrics_collision_between_gauge_and_counter_is_refused() {
        let mut encoder = Encoder::new(Format::OpenMetrics);
        encoder.family("x", "gauge", Kind::Gauge).sample(&[], 1.0);
        encoder
            .family("x_total", "counter", Kind::Counter)
            .sample(&[], 1.0);
        assert_eq!(encoder.dropped_samples(), 1);
    }

    #[test]
    fn large_expositions_are_split_at_line_ends() {
        let mut encoder = Encoder::new(Format::OpenMetrics);
        encoder.family("big", "many samples", Kind::Gauge);
        let id = "x".repeat(100);
        for i in 0..5000 {
            encoder.sample(&[("id", &id), ("n", &i.to_string())], f64::from(i));
        }
        let chunks = encoder.finish_chunks();
        assert!(chunks.len() > 5, "{} chunks", chunks.len());
        for chunk in &chunks {
            assert!(chunk.len() < CHUNK_SIZE + 1024);
            assert_eq!(chunk.last(), Some(&b'\n'));
        }
        let all: Vec<u8> = chunks.concat();
        let text = String::from_utf8(all).unwrap();
        assert_eq!(text.lines().filter(|l| l.starts_with("big{")).count(), 5000);
        assert!(text.ends_with("# EOF\n"));
    }
}
